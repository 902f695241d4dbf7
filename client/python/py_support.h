#pragma once

// Helpers of the kvtier Python module (kvtier_python.cc): errors as
// kvtier.Error, keys, and caller memory through the buffer protocol or a
// torch.Tensor's own storage.

#include <pybind11/pybind11.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/result.h"
#include "protocol/messages.h"

namespace kvtier::python {

namespace py = pybind11;

// Makes `type` (kvtier.Error) the class Raise raises; called once at import.
void SetErrorType(PyObject* type);
// Raises kvtier.Error(code, name, message) for `status`.
[[noreturn]] void Raise(const Status& status);

template <typename T>
T Unwrap(Result<T> result) {
  if (!result.ok()) Raise(result.status());
  return std::move(*result);
}

// Keys as the server sees them: bytes as they are, str as UTF-8.
std::vector<std::string> ToKeys(const py::sequence& keys);

// A contiguous view of a Python buffer or a torch.Tensor's memory, held
// (with the object) while used.
struct Buffer {
  std::optional<py::buffer_info> info;  // a buffer object's view
  py::object owner;                     // a tensor, kept alive
  std::span<std::byte> span;
  std::span<std::byte> bytes() const { return span; }
};

// A CPU, contiguous torch.Tensor of any dtype (bfloat16 included): its own
// memory, no copy; nullopt when `object` is not a tensor.
std::optional<Buffer> TensorBuffer(const py::handle object);
// A buffer object's or a tensor's memory; raises TypeError for others.
Buffer ToBuffer(const py::handle object, bool writable);

std::optional<std::string> TierOrNone(protocol::TierId tier);

struct MatchResult {
  uint32_t matched = 0;
  std::vector<std::string> tiers;
  uint64_t lease_id = 0;
  uint32_t lease_ms = 0;
};

std::vector<std::span<std::byte>> Spans(const std::vector<Buffer>& buffers);
// The first `count` buffers: one per key (more are allowed and left alone).
std::vector<Buffer> WritableBuffers(const py::sequence& buffers, size_t count);
// A Get's values as bytes (one copy each), None for a miss; raises on any
// other failed value.
std::vector<std::optional<py::bytes>> ValuesAsBytes(const client::GetResult& result);

}  // namespace kvtier::python
