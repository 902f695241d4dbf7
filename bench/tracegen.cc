// kvtier-tracegen: writes a synthetic request trace in the Mooncake JSONL
// format (see trace.h) to stdout.
//
// The model: --system-prompts shared system prompts of --system-blocks blocks,
// picked with Zipf(--zipf) popularity; --conversations conversations, also
// Zipf-popular, each of up to --max-turns turns. A turn's prompt is the whole
// conversation so far (system prompt, earlier user blocks and answers) plus
// 1..--user-blocks new blocks; its answer (about --output-tokens tokens) joins
// the history of the next turn. Block ids are prefix-chained: a block's id is
// shared exactly when everything before it is shared. Arrivals are Poisson at
// --rate requests a second.
//
//   kvtier-tracegen --requests 2000 --seed 7 > /tmp/trace.jsonl

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "bench/trace.h"

namespace kvtier::bench {
namespace {

struct GenOptions {
  uint64_t requests = 1000;
  uint32_t system_prompts = 8;
  uint32_t system_blocks = 4;
  uint32_t conversations = 200;
  uint32_t max_turns = 6;
  uint32_t user_blocks = 4;
  uint32_t output_tokens = 300;
  double zipf = 1.0;
  double rate = 10;
  uint64_t seed = 1;
};

// Samples 0..n-1 with probability proportional to 1 / (i + 1)^s.
class Zipf {
 public:
  Zipf(size_t n, double s) : cdf_(n) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) cdf_[i] = sum += 1.0 / std::pow(static_cast<double>(i + 1), s);
    for (double& c : cdf_) c /= sum;
  }
  size_t operator()(std::mt19937_64& random) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(random);
    return std::min<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin(),
                            cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

struct Conversation {
  std::vector<uint64_t> history;  // block ids of everything said so far
  uint32_t turns = 0;
};

int Run(int argc, char** argv) {
  GenOptions o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        std::cout << "usage: kvtier-tracegen [--requests N] [--system-prompts N] "
                     "[--system-blocks N] [--conversations N] [--max-turns N] "
                     "[--user-blocks N] [--output-tokens N] [--zipf S] [--rate R] [--seed N]\n";
        return 0;
      }
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      const std::string value = argv[++i];
      if (arg == "--requests")
        o.requests = std::stoull(value);
      else if (arg == "--system-prompts")
        o.system_prompts = std::stoul(value);
      else if (arg == "--system-blocks")
        o.system_blocks = std::stoul(value);
      else if (arg == "--conversations")
        o.conversations = std::stoul(value);
      else if (arg == "--max-turns")
        o.max_turns = std::stoul(value);
      else if (arg == "--user-blocks")
        o.user_blocks = std::stoul(value);
      else if (arg == "--output-tokens")
        o.output_tokens = std::stoul(value);
      else if (arg == "--zipf")
        o.zipf = std::stod(value);
      else if (arg == "--rate")
        o.rate = std::stod(value);
      else if (arg == "--seed")
        o.seed = std::stoull(value);
      else
        throw std::invalid_argument("unknown option " + arg);
    }
    if (o.system_prompts == 0 || o.conversations == 0 || o.max_turns == 0 || o.user_blocks == 0 ||
        o.rate <= 0) {
      throw std::invalid_argument("counts and --rate must be > 0");
    }
  } catch (const std::exception& e) {
    std::cerr << "kvtier-tracegen: " << e.what() << "\n";
    return 2;
  }

  std::mt19937_64 random(o.seed);
  uint64_t next_id = 1;
  std::vector<std::vector<uint64_t>> systems(o.system_prompts);
  for (auto& system : systems) {
    for (uint32_t b = 0; b < o.system_blocks; ++b) system.push_back(next_id++);
  }
  const Zipf pick_system(o.system_prompts, o.zipf);
  const Zipf pick_conversation(o.conversations, o.zipf);
  std::vector<Conversation> conversations(o.conversations);
  std::exponential_distribution<double> gap_s(o.rate);
  double now_s = 0;

  for (uint64_t r = 0; r < o.requests; ++r) {
    Conversation& c = conversations[pick_conversation(random)];
    if (c.turns == 0 || c.turns >= o.max_turns) {  // a new conversation in this slot
      c.history = systems[pick_system(random)];
      c.turns = 0;
    }
    const uint32_t new_blocks = 1 + static_cast<uint32_t>(random() % o.user_blocks);
    for (uint32_t b = 0; b < new_blocks; ++b) c.history.push_back(next_id++);
    TraceRequest request;
    request.timestamp_ms = static_cast<uint64_t>(now_s * 1000);
    request.hash_ids = c.history;
    request.input_length = c.history.size() * kTraceBlockTokens - random() % kTraceBlockTokens;
    request.output_length = 1 + random() % (2 * o.output_tokens);
    std::printf("%s\n", FormatTraceLine(request).c_str());
    // The answer becomes part of the next turn's prompt.
    const uint64_t answer_blocks =
        (request.output_length + kTraceBlockTokens - 1) / kTraceBlockTokens;
    for (uint64_t b = 0; b < answer_blocks; ++b) c.history.push_back(next_id++);
    ++c.turns;
    now_s += gap_s(random);
  }
  return 0;
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) { return kvtier::bench::Run(argc, argv); }
