// kvtier-tracegen: writes a synthetic request trace in the Mooncake JSONL
// format (see trace.h) to stdout, with the shapes public conversation and
// agent traces have.
//
// The model, one knob each (defaults in brackets):
//   --requests N            requests written [1000]
//   Sessions. A request is a follow-up turn that has come due, else the
//   first turn of a new session: a chat, or an agent loop with share
//   --agent-share [0.02].
//   --system-prompts N      shared system prompts [32], picked with
//   --zipf S                Zipf(S) popularity [1.0]; a new session has one
//   --system-share P        with probability P [0.6];
//   --system-blocks A:B     their lengths, uniform in A..B blocks [1:8]; a
//                           system prompt's length is not a whole number of
//                           blocks, so the block it ends in is the session's
//                           own.
//   Chats.
//   --user-tokens A:B       tokens a user turn adds, uniform [100:4000];
//   --output-tokens N       answer tokens, uniform in 1..2N [300]; the answer
//                           joins the history of the next turn;
//   --follow-up P           mean probability a turn is followed up [0.35], so
//                           most chats are single-turn;
//   --follow-up-spread K    users differ: each chat draws its own probability
//                           from Beta with mean P and concentration K [2] (small
//                           K: a few chats go on for many turns, most stop at
//                           one; 0: every chat has P);
//   --follow-up-gap N       requests between a turn and its follow-up,
//                           exponential with mean N [400];
//   --max-turns N           turns at most [12].
//   Agent loops: each step re-sends the whole growing context.
//   --agent-steps A:B       steps, uniform [4:20];
//   --tool-tokens A:B       tokens a tool result adds per step [200:3000];
//   --agent-gap N           requests between steps, exponential mean N [8].
//   --rate R                Poisson arrivals, requests a second [10];
//   --seed N                [1].
// Blocks are kTraceBlockTokens tokens and prefix-chained: a block's id is
// shared exactly when every token up to its end is. A request's last block
// is partial unless its prompt ends on a block boundary; the next turn
// completes those tokens into a block with a new id, so a partial block is
// only read again by an identical prompt.
//
//   kvtier-tracegen --requests 2000 --seed 7 > /tmp/trace.jsonl

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "bench/trace.h"

namespace kvtier::bench {
namespace {

struct Range {
  uint32_t low = 0;
  uint32_t high = 0;
  uint32_t Pick(std::mt19937_64& random) const {
    return low + static_cast<uint32_t>(random() % (high - low + 1));
  }
};

struct GenOptions {
  uint64_t requests = 1000;
  uint32_t system_prompts = 32;
  double system_share = 0.6;
  Range system_blocks{1, 8};
  double zipf = 1.0;
  Range user_tokens{100, 4000};
  uint32_t output_tokens = 300;
  double follow_up = 0.35;
  double follow_up_spread = 2;
  double follow_up_gap = 400;
  uint32_t max_turns = 12;
  double agent_share = 0.02;
  Range agent_steps{4, 20};
  Range tool_tokens{200, 3000};
  double agent_gap = 8;
  double rate = 10;
  uint64_t seed = 1;
};

constexpr const char* kUsage =
    "usage: kvtier-tracegen [--requests N] [--system-prompts N] [--zipf S] [--system-share P]\n"
    "  [--system-blocks A:B] [--user-tokens A:B] [--output-tokens N] [--follow-up P]\n"
    "  [--follow-up-gap N] [--follow-up-spread K] [--max-turns N] [--agent-share P]\n"
    "  [--agent-steps A:B]\n"
    "  [--tool-tokens A:B] [--agent-gap N] [--rate R] [--seed N]\n";

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

// The tokens a session has said so far: whole blocks with their ids, then
// the tokens of a block not yet full.
struct Session {
  std::vector<uint64_t> blocks;
  uint64_t tail_tokens = 0;
  bool agent = false;
  uint32_t turns = 0;
  uint32_t max_turns = 0;
  double follow_up = 0;  // this chat's probability of a follow-up per turn
};

Range ParseRange(const std::string& text) {
  const size_t colon = text.find(':');
  Range range;
  range.low = static_cast<uint32_t>(std::stoul(text.substr(0, colon)));
  range.high = colon == std::string::npos
                   ? range.low
                   : static_cast<uint32_t>(std::stoul(text.substr(colon + 1)));
  if (range.high < range.low) throw std::invalid_argument("a range A:B needs A <= B: " + text);
  return range;
}

GenOptions ParseOptions(int argc, char** argv) {
  GenOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--requests")
      o.requests = std::stoull(value);
    else if (arg == "--system-prompts")
      o.system_prompts = std::stoul(value);
    else if (arg == "--system-share")
      o.system_share = std::stod(value);
    else if (arg == "--system-blocks")
      o.system_blocks = ParseRange(value);
    else if (arg == "--zipf")
      o.zipf = std::stod(value);
    else if (arg == "--user-tokens")
      o.user_tokens = ParseRange(value);
    else if (arg == "--output-tokens")
      o.output_tokens = std::stoul(value);
    else if (arg == "--follow-up")
      o.follow_up = std::stod(value);
    else if (arg == "--follow-up-gap")
      o.follow_up_gap = std::stod(value);
    else if (arg == "--follow-up-spread")
      o.follow_up_spread = std::stod(value);
    else if (arg == "--max-turns")
      o.max_turns = std::stoul(value);
    else if (arg == "--agent-share")
      o.agent_share = std::stod(value);
    else if (arg == "--agent-steps")
      o.agent_steps = ParseRange(value);
    else if (arg == "--tool-tokens")
      o.tool_tokens = ParseRange(value);
    else if (arg == "--agent-gap")
      o.agent_gap = std::stod(value);
    else if (arg == "--rate")
      o.rate = std::stod(value);
    else if (arg == "--seed")
      o.seed = std::stoull(value);
    else
      throw std::invalid_argument("unknown option " + arg);
  }
  if (o.system_prompts == 0 || o.max_turns == 0 || o.rate <= 0 || o.follow_up_gap <= 0 ||
      o.follow_up_spread < 0 || o.agent_gap <= 0 || o.user_tokens.high == 0 ||
      o.agent_steps.low == 0) {
    throw std::invalid_argument(
        "counts, gaps, token ranges and --rate must be > 0, --follow-up-spread >= 0");
  }
  return o;
}

class Generator {
 public:
  explicit Generator(const GenOptions& o)
      : o_(o), random_(o.seed), pick_system_(o.system_prompts, o.zipf), gap_s_(o.rate) {
    for (uint32_t s = 0; s < o.system_prompts; ++s) {
      const uint32_t blocks = o.system_blocks.Pick(random_);
      // Whole blocks, then a part of one: the block the prompt ends in is
      // completed by each session's own tokens.
      system_lengths_.push_back(blocks * kTraceBlockTokens + random_() % kTraceBlockTokens);
      std::vector<uint64_t> ids;
      for (uint32_t b = 0; b < blocks; ++b) ids.push_back(next_id_++);
      system_blocks_.push_back(std::move(ids));
    }
  }

  void Run() {
    for (uint64_t r = 0; r < o_.requests; ++r) {
      size_t index;
      if (!due_.empty() && due_.top().first <= r) {
        index = due_.top().second;
        due_.pop();
      } else {
        index = StartSession();
      }
      Turn(index, r);
      now_s_ += gap_s_(random_);
    }
  }

 private:
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(random_); }

  size_t StartSession() {
    Session session;
    session.agent = Uniform() < o_.agent_share;
    session.max_turns = session.agent ? o_.agent_steps.Pick(random_) : o_.max_turns;
    session.follow_up = o_.follow_up;
    if (o_.follow_up_spread > 0 && o_.follow_up > 0 && o_.follow_up < 1) {
      // Beta(P K, (1 - P) K) from two Gamma draws.
      const double a = std::gamma_distribution<double>(o_.follow_up * o_.follow_up_spread)(random_);
      const double b =
          std::gamma_distribution<double>((1 - o_.follow_up) * o_.follow_up_spread)(random_);
      session.follow_up = a + b > 0 ? a / (a + b) : o_.follow_up;
    }
    if (Uniform() < o_.system_share) {
      const size_t system = pick_system_(random_);
      session.blocks = system_blocks_[system];
      session.tail_tokens = system_lengths_[system] % kTraceBlockTokens;
    }
    sessions_.push_back(std::move(session));
    return sessions_.size() - 1;
  }

  void Say(Session& session, uint64_t tokens) {
    session.tail_tokens += tokens;
    while (session.tail_tokens >= kTraceBlockTokens) {
      session.blocks.push_back(next_id_++);
      session.tail_tokens -= kTraceBlockTokens;
    }
  }

  void Turn(size_t index, uint64_t r) {
    Session& session = sessions_[index];
    Say(session, session.agent ? o_.tool_tokens.Pick(random_) : o_.user_tokens.Pick(random_));
    TraceRequest request;
    request.timestamp_ms = static_cast<uint64_t>(now_s_ * 1000);
    request.hash_ids = session.blocks;
    // A partial last block has an id no later prompt shares.
    if (session.tail_tokens > 0) request.hash_ids.push_back(next_id_++);
    request.input_length = session.blocks.size() * kTraceBlockTokens + session.tail_tokens;
    request.output_length = 1 + random_() % (2 * o_.output_tokens);
    std::printf("%s\n", FormatTraceLine(request).c_str());
    Say(session, request.output_length);
    ++session.turns;
    const bool again =
        session.turns < session.max_turns && (session.agent || Uniform() < session.follow_up);
    if (!again) {
      session = Session();  // its blocks are no longer needed here
      return;
    }
    const double mean_gap = session.agent ? o_.agent_gap : o_.follow_up_gap;
    const auto gap =
        static_cast<uint64_t>(std::exponential_distribution<double>(1 / mean_gap)(random_));
    due_.emplace(r + 1 + gap, index);
  }

  const GenOptions& o_;
  std::mt19937_64 random_;
  Zipf pick_system_;
  std::exponential_distribution<double> gap_s_;
  std::vector<uint64_t> system_lengths_;  // tokens
  std::vector<std::vector<uint64_t>> system_blocks_;
  std::vector<Session> sessions_;
  using Due = std::pair<uint64_t, size_t>;  // (request number, session)
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  uint64_t next_id_ = 1;
  double now_s_ = 0;
};

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) {
  using namespace kvtier::bench;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::cout << kUsage;
      return 0;
    }
  }
  try {
    const GenOptions options = ParseOptions(argc, argv);
    Generator(options).Run();
  } catch (const std::exception& e) {
    std::cerr << "kvtier-tracegen: " << e.what() << "\n" << kUsage;
    return 2;
  }
  return 0;
}
