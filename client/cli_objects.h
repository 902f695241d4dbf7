#pragma once

// The kvtier CLI's object commands (dataset namespaces):
//   ls NS [PREFIX]                 one level under PREFIX: "PRE dir/" lines,
//                                  then "SIZE  MODIFIED  PATH" per object
//   stat NS PATH                   size, version, modification time, blocks
//   cat NS PATH [OFFSET [LENGTH]]  the bytes to stdout
// and for checkpoint namespaces:
//   write NS PATH [FILE|-]         a file (or stdin) as the object at PATH,
//                                  streamed block by block, visible at once
//                                  when the command succeeds
//   mv NS FROM TO                  rename an object
//   rm NS PATH                     delete an object
// Each returns the process exit status (0 ok, 1 failed, 2 usage).

#include <span>
#include <string>

#include "client/client.h"

namespace kvtier::client {

int ListCommand(Client& client, std::span<const std::string> args);
int StatCommand(Client& client, std::span<const std::string> args);
int CatCommand(Client& client, std::span<const std::string> args);
int WriteCommand(Client& client, std::span<const std::string> args);
int MoveCommand(Client& client, std::span<const std::string> args);
int RemoveCommand(Client& client, std::span<const std::string> args);

}  // namespace kvtier::client
