#include "client/cli_stats.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace kvtier::client {
namespace {

// 1536 -> "1.5KiB": three significant digits for reading, not parsing.
std::string HumanBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f%s" : "%.1f%s", value, kUnits[unit]);
  return text;
}

uint64_t Find(const std::vector<protocol::NamedCounter>& counters, const std::string& name) {
  for (const auto& c : counters) {
    if (c.name == name) return c.value;
  }
  return 0;
}

// Left-aligned first column, right-aligned numbers, widths from the content.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const {
    std::vector<size_t> widths(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
        widths[i] = std::max(widths[i], row[i].size());
      }
    }
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
        const std::string pad(widths[i] - row[i].size(), ' ');
        out << (i == 0 ? row[i] + pad : "  " + pad + row[i]);
      }
      out << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Ratio(uint64_t hits, uint64_t misses) {
  if (hits + misses == 0) return "-";
  char text[16];
  std::snprintf(text, sizeof(text), "%.3f", static_cast<double>(hits) / (hits + misses));
  return text;
}

}  // namespace

void PrintStatsTables(const StatsResult& stats, std::ostream& out) {
  out << "server " << stats.server_name << " (" << stats.server_id << "), up "
      << stats.uptime_seconds << "s\n\n";

  static const std::set<std::string> kTierColumns = {"hits", "misses", "evictions"};
  Table tiers({"tier", "used", "capacity", "items", "hits", "misses", "hit ratio", "evictions"});
  for (const auto& t : stats.tiers) {
    const uint64_t hits = Find(t.counters, "hits");
    const uint64_t misses = Find(t.counters, "misses");
    tiers.Add({t.name, HumanBytes(t.used_bytes), HumanBytes(t.capacity_bytes),
               std::to_string(t.items), std::to_string(hits), std::to_string(misses),
               Ratio(hits, misses), std::to_string(Find(t.counters, "evictions"))});
  }
  tiers.Print(out);
  for (const auto& t : stats.tiers) {
    std::string rest;
    for (const auto& c : t.counters) {
      if (c.value == 0 || kTierColumns.count(c.name) > 0) continue;
      rest += (rest.empty() ? "" : ", ") + c.name + " " + std::to_string(c.value);
    }
    if (!rest.empty()) out << "  " << t.name << ": " << rest << "\n";
  }

  out << "\n";
  Table namespaces({"namespace", "kind", "in dram", "on nvme", "hits", "misses", "hit ratio",
                    "puts", "put bytes", "get bytes", "deletes", "rejected puts"});
  for (const auto& n : stats.namespaces) {
    const uint64_t hits = Find(n.counters, "hits");
    const uint64_t misses = Find(n.counters, "misses");
    namespaces.Add(
        {n.name, n.kind, HumanBytes(Find(n.counters, "dram_bytes")),
         HumanBytes(Find(n.counters, "nvme_bytes")), std::to_string(hits), std::to_string(misses),
         Ratio(hits, misses), std::to_string(Find(n.counters, "puts")),
         HumanBytes(Find(n.counters, "put_bytes")), HumanBytes(Find(n.counters, "get_bytes")),
         std::to_string(Find(n.counters, "deletes")),
         std::to_string(Find(n.counters, "rejected_puts"))});
  }
  namespaces.Print(out);

  out << "\nserver counters (nonzero):\n";
  for (const auto& c : stats.counters) {
    if (c.value != 0) out << "  " << c.name << " " << c.value << "\n";
  }
}

}  // namespace kvtier::client
