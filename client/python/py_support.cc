#include "client/python/py_support.h"

#include <memory>

namespace kvtier::python {

namespace {
// kvtier.Error, created at import.
PyObject* g_error = nullptr;
}  // namespace

void SetErrorType(PyObject* type) {
  g_error = type;
  Py_INCREF(g_error);
}

[[noreturn]] void Raise(const Status& status) {
  py::object error = py::reinterpret_borrow<py::object>(g_error)(
      static_cast<int>(status.code()), std::string(StatusCodeName(status.code())),
      status.message());
  PyErr_SetObject(g_error, error.ptr());
  throw py::error_already_set();
}

// Keys as the server sees them: bytes as they are, str as UTF-8.
std::vector<std::string> ToKeys(const py::sequence& keys) {
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (const py::handle key : keys) {
    if (!py::isinstance<py::bytes>(key) && !py::isinstance<py::str>(key)) {
      throw py::type_error("keys must be bytes or str");
    }
    out.push_back(key.cast<std::string>());
  }
  return out;
}

// A CPU, contiguous torch.Tensor of any dtype (bfloat16 included, which no
// buffer protocol describes): its own memory, no copy. Found by duck typing,
// so the module does not depend on torch. nullopt: not a tensor.
std::optional<Buffer> TensorBuffer(const py::handle object) {
  for (const char* attribute : {"data_ptr", "element_size", "numel", "is_contiguous", "device"}) {
    if (!py::hasattr(object, attribute)) return std::nullopt;
  }
  if (object.attr("device").attr("type").cast<std::string>() != "cpu") {
    throw py::value_error("tensors must be on the CPU (copy it with .cpu() first)");
  }
  if (!object.attr("is_contiguous")().cast<bool>()) {
    throw py::value_error("tensors must be contiguous (use .contiguous())");
  }
  const auto address = object.attr("data_ptr")().cast<uintptr_t>();
  const auto size =
      object.attr("numel")().cast<size_t>() * object.attr("element_size")().cast<size_t>();
  return Buffer{std::nullopt,
                py::reinterpret_borrow<py::object>(object),
                {reinterpret_cast<std::byte*>(address), size}};
}

Buffer ToBuffer(const py::handle object, bool writable) {
  if (!PyObject_CheckBuffer(object.ptr())) {
    if (auto tensor = TensorBuffer(object)) return std::move(*tensor);
    throw py::type_error("expected a buffer object (bytes, bytearray, numpy array) or a tensor");
  }
  const int flags = PyBUF_FORMAT | PyBUF_ND | PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
  // buffer_info takes the view (heap-allocated) and releases it when done.
  auto view = std::make_unique<Py_buffer>();
  if (PyObject_GetBuffer(object.ptr(), view.get(), flags) != 0) throw py::error_already_set();
  py::buffer_info info(view.release(), /*ownview=*/true);
  const std::span<std::byte> span(static_cast<std::byte*>(info.ptr),
                                  static_cast<size_t>(info.size * info.itemsize));
  return Buffer{std::move(info), py::object(), span};
}

std::optional<std::string> TierOrNone(protocol::TierId tier) {
  if (tier == protocol::TierId::kNone) return std::nullopt;
  return std::string(protocol::TierName(tier));
}

std::vector<std::span<std::byte>> Spans(const std::vector<Buffer>& buffers) {
  std::vector<std::span<std::byte>> out;
  out.reserve(buffers.size());
  for (const Buffer& buffer : buffers) out.push_back(buffer.bytes());
  return out;
}

// The first `count` buffers: one per key. More are allowed and left alone,
// so the buffers of a whole request serve the keys of a partial match.
std::vector<Buffer> WritableBuffers(const py::sequence& buffers, size_t count) {
  if (buffers.size() < count) {
    throw py::value_error("one buffer per key is needed: " + std::to_string(count) + " keys, " +
                          std::to_string(buffers.size()) + " buffers");
  }
  std::vector<Buffer> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.push_back(ToBuffer(buffers[i], /*writable=*/true));
  return out;
}

// A Get's values as bytes (one copy each), None for a miss; raises on any
// other failed value.
std::vector<std::optional<py::bytes>> ValuesAsBytes(const client::GetResult& result) {
  std::vector<std::optional<py::bytes>> out;
  for (const client::GetValue& value : result.values) {
    if (value.status.code() == StatusCode::kNotFound) {
      out.emplace_back(std::nullopt);
      continue;
    }
    if (!value.status.ok()) Raise(value.status);
    out.emplace_back(
        py::bytes(reinterpret_cast<const char*>(value.bytes.data()), value.bytes.size()));
  }
  return out;
}

}  // namespace kvtier::python
