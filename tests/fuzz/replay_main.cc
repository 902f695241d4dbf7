// Runs a fuzz target once over given inputs, without libFuzzer: the seed
// corpus and the inputs that once crashed (tests/fuzz/regressions/) are
// replayed by every build, whatever the compiler.
//
// Usage: fuzz_<target> FILE|DIR...   (paths that do not exist are skipped;
// exits 0 once at least one input ran and none crashed)

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool Run(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
  if (!file.good() && !file.eof()) {
    std::cerr << "cannot read " << path << "\n";
    return false;
  }
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path(argv[i]);
    if (!std::filesystem::exists(path)) continue;  // e.g. no regressions kept yet
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (!entry.is_regular_file()) continue;
        if (!Run(entry.path())) return 1;
        ++inputs;
      }
    } else {
      if (!Run(path)) return 1;
      ++inputs;
    }
  }
  std::cout << inputs << " inputs ran\n";
  return inputs > 0 ? 0 : 1;
}
