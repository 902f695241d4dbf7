#pragma once

// `kvtier keys`: prints the block keys a prompt's tokens get under a chain
// scheme (kvtier's own, vLLM's or SGLang's), one lower-case hex key per line
// (SGLang rank keys as text). Needs no server: for checking that a sidecar
// and an engine agree on keys, and for scripts.

#include <span>
#include <string>

namespace kvtier::client {

// args: the operands after "keys". Returns the process exit status
// (0 ok, 2 usage error), printing errors on stderr.
int KeysCommand(std::span<const std::string> args);

}  // namespace kvtier::client
