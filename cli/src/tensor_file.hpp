#pragma once
// Gradient and momentum tensors from .safetensors and .npy files, read one
// tensor at a time: the header is read and checked whole when the file is
// opened, then each tensor's bytes only when it is asked for, so a file of
// many tensors never sits in memory at once.
//
// safetensors: 8-byte little-endian header size, a JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"},
// then the data; dtypes F64, F32, F16 and BF16, little-endian, C order.
// npy (versions 1-3): the magic, a Python-dict header ('descr', 'fortran_order',
// 'shape'), then the data; descr <f8, <f4, <f2 and their big-endian forms.
//
// Every problem is a UsageError naming the file and, where there is one,
// the tensor: a truncated file, a header over kMaxHeaderBytes or malformed,
// a dtype other than the four, offsets that disagree with the shape, a
// non-finite value.
#include "polar_express/runtime/vocabulary.hpp"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace polar_express::cli {

// safetensors' own limit on its header (100 MB); npy headers are far smaller.
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr std::uint64_t kMaxNpyHeaderBytes = 1 << 20;

struct TensorEntry {
  std::string name;
  std::string dtype;  // as the file writes it ("F32", "<f4")
  std::vector<std::int64_t> shape;
  ElementType kind = ElementType::kF32;
  bool big_endian = false;
  bool fortran_order = false;
  std::uint64_t offset = 0;  // absolute, in bytes
  std::uint64_t elements = 0;
};

class TensorFile {
 public:
  // Opens and checks the header.  UsageError for anything wrong with it.
  explicit TensorFile(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<TensorEntry>& tensors() const { return tensors_; }

  // The tensor's values as doubles in C (row-major) order.  UsageError for
  // a short read or a non-finite value.
  std::vector<double> read(const TensorEntry& tensor);

 private:
  void open_safetensors(std::uint64_t file_bytes);
  void open_npy(std::uint64_t file_bytes);

  std::string path_;
  std::ifstream in_;
  std::vector<TensorEntry> tensors_;
};

}  // namespace polar_express::cli
