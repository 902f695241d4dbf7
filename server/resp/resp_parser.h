#pragma once

// Parsing RESP requests (docs/resp.md): a multibulk array of bulk strings
// (`*N\r\n$len\r\narg\r\n...`), or an inline command (words on one line,
// as typed into telnet). Parse() looks at the bytes received so far and
// either finds one whole command at their front, says how many more bytes
// it needs at least, or says why the stream is broken. It keeps no state:
// a connection calls it again from the front once more bytes arrived, which
// costs a scan of the argument headers, never of the values. Every length
// is checked against the limits before it is used.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvtier::server::resp {

struct ParserLimits {
  uint64_t max_bulk_bytes = 64ull << 20;      // one argument (limits.max_value_bytes)
  uint64_t max_command_bytes = 256ull << 20;  // one whole command
  size_t max_arguments = 1u << 20;
  size_t max_inline_bytes = 64u << 10;  // one inline command line
};

enum class ParseOutcome {
  kCommand,   // `args` holds a command; `consumed` bytes of input were it
  kNeedMore,  // no whole command yet: read at least `needed` more bytes
  kError,     // broken stream: answer `error` and close the connection
};

struct ParseResult {
  ParseOutcome outcome = ParseOutcome::kNeedMore;
  size_t consumed = 0;
  uint64_t needed = 1;
  std::string error;  // with kError: the message after "-ERR "
};

// Parses the command at the front of `input`. On kCommand, `args` (cleared
// first) views into `input`. An empty inline line is no command: it is
// consumed and kCommand returned with no args.
ParseResult ParseCommand(std::string_view input, const ParserLimits& limits,
                         std::vector<std::string_view>& args);

}  // namespace kvtier::server::resp
