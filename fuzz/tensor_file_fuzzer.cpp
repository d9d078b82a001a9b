// libFuzzer target for analyze's tensor reader (cli/src/tensor_file.*): any
// byte string, as a .safetensors file (or an .npy one when it starts with
// the npy magic), must either read whole or raise UsageError, the one-line
// exit-2 error; anything else (another exception, a crash, a sanitizer
// report, a read past the file) is a bug.
#include "common.hpp"
#include "tensor_file.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/polar-express-fuzz-" + std::to_string(::getpid()) + ".safetensors";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    polar_express::cli::TensorFile file(path);
    for (const polar_express::cli::TensorEntry& tensor : file.tensors()) file.read(tensor);
  } catch (const polar_express::cli::UsageError&) {
  }
  return 0;
}
