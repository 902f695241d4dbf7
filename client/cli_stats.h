#pragma once

// `kvtier stats` as tables for people: one row per tier and per namespace
// with the counters most looked at, then each tier's other nonzero counters
// and the nonzero server counters. (`--json` prints everything, for scripts.)

#include <ostream>

#include "client/client.h"

namespace kvtier::client {

void PrintStatsTables(const StatsResult& stats, std::ostream& out);

}  // namespace kvtier::client
