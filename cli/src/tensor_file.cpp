#include "tensor_file.hpp"

#include "common.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

namespace polar_express::cli {
namespace {

static_assert(std::endian::native == std::endian::little, "the tensor reader assumes a little-endian host");

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr std::size_t kNpyMagicBytes = 6;
// Elements converted per read, so that a tensor is never held twice as bytes.
constexpr std::size_t kChunkElements = 1 << 16;
// More elements than any tensor this tool could decompose; keeps byte counts
// far from overflowing.
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 40;

double half_to_double(std::uint16_t h) {
  const int sign = h >> 15;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  double value = 0;
  if (exponent == 0) value = std::ldexp(static_cast<double>(mantissa), -24);
  else if (exponent == 31) value = mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else value = std::ldexp(static_cast<double>(mantissa + 1024), exponent - 25);
  return sign ? -value : value;
}

double decode(const unsigned char* bytes, ElementType kind, bool big_endian) {
  unsigned char b[8];
  const auto n = static_cast<int>(element_bytes(kind));
  for (int i = 0; i < n; ++i) b[i] = bytes[big_endian ? n - 1 - i : i];
  switch (kind) {
    case ElementType::kF64: {
      double v;
      std::memcpy(&v, b, 8);
      return v;
    }
    case ElementType::kF32: {
      float v;
      std::memcpy(&v, b, 4);
      return v;
    }
    case ElementType::kF16: return half_to_double(static_cast<std::uint16_t>(b[0] | (b[1] << 8)));
    case ElementType::kBF16: {
      const std::uint32_t bits = static_cast<std::uint32_t>(b[0] | (b[1] << 8)) << 16;
      return std::bit_cast<float>(bits);
    }
  }
  return 0;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Product of the dimensions; UsageError past kMaxElements.
std::uint64_t element_count(const std::vector<std::int64_t>& shape, const std::string& where) {
  std::uint64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw UsageError(where + " has a negative dimension");
    if (d != 0 && n > kMaxElements / static_cast<std::uint64_t>(d)) throw UsageError(where + " has too many elements");
    n *= static_cast<std::uint64_t>(d);
  }
  return n;
}

std::uint64_t little_endian(const unsigned char* b, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes; i-- > 0;) v = (v << 8) | b[i];
  return v;
}

// The Python literal of an npy header: {'key': value, ...} with string,
// True/False and integer-tuple values.
class NpyHeader {
 public:
  NpyHeader(const std::string& text, std::string where) : text_(text), where_(std::move(where)) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<std::int64_t>& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        fail("has an unknown key " + quoted(key));
      }
      skip_space();
      if (peek() == ',') ++at_;
    }
    if (!have_descr || !have_order || !have_shape) fail("lacks 'descr', 'fortran_order' or 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw UsageError(where_ + ": npy header " + what); }
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\t')) ++at_;
  }
  char peek() {
    if (at_ >= text_.size()) fail("ends early");
    return text_[at_];
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "' at byte " + std::to_string(at_));
    ++at_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string at byte " + std::to_string(at_));
    const std::size_t end = text_.find(quote, at_ + 1);
    if (end == std::string::npos) fail("has an unterminated string");
    std::string s = text_.substr(at_ + 1, end - at_ - 1);
    at_ = end + 1;
    return s;
  }
  bool boolean() {
    if (text_.compare(at_, 4, "True") == 0) {
      at_ += 4;
      return true;
    }
    if (text_.compare(at_, 5, "False") == 0) {
      at_ += 5;
      return false;
    }
    fail("'fortran_order' is not True or False");
  }
  std::vector<std::int64_t> tuple() {
    expect('(');
    std::vector<std::int64_t> dims;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      std::size_t start = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
      if (at_ == start || at_ - start > 15) fail("'shape' holds something other than non-negative integers");
      dims.push_back(std::stoll(text_.substr(start, at_ - start)));
      skip_space();
      if (peek() == ',') ++at_;
    }
    ++at_;
    return dims;
  }

  const std::string& text_;
  std::string where_;
  std::size_t at_ = 0;
};

}  // namespace

TensorFile::TensorFile(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw UsageError("tensor file '" + path + "' does not exist");
  if (fs::is_directory(path, ec)) throw UsageError("tensor file '" + path + "' is a directory");
  const std::uint64_t file_bytes = fs::file_size(path, ec);
  if (ec) throw UsageError("tensor file '" + path + "' cannot be read: " + ec.message());
  in_.open(path, std::ios::binary);
  if (!in_) throw UsageError("tensor file '" + path + "' cannot be opened");
  char magic[kNpyMagicBytes] = {};
  in_.read(magic, kNpyMagicBytes);
  const bool npy = in_.gcount() == static_cast<std::streamsize>(kNpyMagicBytes) &&
                   std::memcmp(magic, kNpyMagic, kNpyMagicBytes) == 0;
  in_.clear();
  in_.seekg(0);
  if (npy) {
    open_npy(file_bytes);
  } else if (fs::path(path).extension() == ".safetensors") {
    open_safetensors(file_bytes);
  } else {
    throw UsageError("tensor file '" + path + "' is neither .npy (no \\x93NUMPY magic) nor .safetensors");
  }
}

void TensorFile::open_safetensors(std::uint64_t file_bytes) {
  const std::string where = "safetensors file '" + path_ + "'";
  unsigned char size_bytes[8];
  in_.read(reinterpret_cast<char*>(size_bytes), 8);
  if (file_bytes < 8 || !in_) throw UsageError(where + " is truncated: " + std::to_string(file_bytes) + " bytes, not even the 8-byte header size");
  const std::uint64_t header_bytes = little_endian(size_bytes, 8);
  if (header_bytes > kMaxHeaderBytes) {
    throw UsageError(where + " declares a header of " + std::to_string(header_bytes) + " bytes, over the " +
                     std::to_string(kMaxHeaderBytes) + "-byte limit");
  }
  if (header_bytes > file_bytes - 8) {
    throw UsageError(where + " is truncated: its header of " + std::to_string(header_bytes) + " bytes runs past the " +
                     std::to_string(file_bytes) + "-byte file");
  }
  std::string header(header_bytes, '\0');
  in_.read(header.data(), static_cast<std::streamsize>(header_bytes));
  if (!in_) throw UsageError(where + " cannot be read");
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(where + ": the header is not JSON (" + e.what() + ")");
  }
  if (!doc.is_object()) throw UsageError(where + ": the header is not a JSON object");
  const std::uint64_t data_start = 8 + header_bytes;
  const std::uint64_t data_bytes = file_bytes - data_start;
  for (const auto& [name, value] : doc.items()) {
    if (name == "__metadata__") continue;
    const std::string at = where + ": tensor " + quoted(name);
    if (!value.is_object()) throw UsageError(at + " is not an object");
    const auto dtype = value.find("dtype");
    const auto shape = value.find("shape");
    const auto offsets = value.find("data_offsets");
    if (dtype == value.end() || !dtype->is_string() || shape == value.end() || !shape->is_array() ||
        offsets == value.end() || !offsets->is_array() || offsets->size() != 2) {
      throw UsageError(at + " lacks a string \"dtype\", an array \"shape\" or two \"data_offsets\"");
    }
    TensorEntry t;
    t.name = name;
    t.dtype = dtype->get<std::string>();
    if (t.dtype == "F64") t.kind = ElementType::kF64;
    else if (t.dtype == "F32") t.kind = ElementType::kF32;
    else if (t.dtype == "F16") t.kind = ElementType::kF16;
    else if (t.dtype == "BF16") t.kind = ElementType::kBF16;
    else throw UsageError(at + " has dtype " + t.dtype + "; analyze reads F64, F32, F16 and BF16");
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) throw UsageError(at + ": \"shape\" holds something other than non-negative integers");
      t.shape.push_back(static_cast<std::int64_t>(std::min<std::uint64_t>(d.get<std::uint64_t>(), kMaxElements + 1)));
    }
    t.elements = element_count(t.shape, at);
    if (!(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      throw UsageError(at + ": \"data_offsets\" are not non-negative integers");
    }
    const std::uint64_t begin = (*offsets)[0].get<std::uint64_t>();
    const std::uint64_t end = (*offsets)[1].get<std::uint64_t>();
    const std::uint64_t needed = t.elements * static_cast<std::uint64_t>(element_bytes(t.kind));
    if (end < begin || end - begin != needed) {
      throw UsageError(at + ": \"data_offsets\" [" + std::to_string(begin) + ", " + std::to_string(end) +
                       ") do not span the " + std::to_string(needed) + " bytes of its shape and dtype");
    }
    if (end > data_bytes) {
      throw UsageError(where + " is truncated: tensor " + quoted(name) + " ends at data byte " + std::to_string(end) +
                       " but the file holds " + std::to_string(data_bytes) + " bytes of data");
    }
    t.offset = data_start + begin;
    tensors_.push_back(std::move(t));
  }
}

void TensorFile::open_npy(std::uint64_t file_bytes) {
  const std::string where = "npy file '" + path_ + "'";
  unsigned char prefix[12] = {};
  in_.read(reinterpret_cast<char*>(prefix), 8);
  if (!in_) throw UsageError(where + " is truncated inside its preamble");
  const int major = prefix[6];
  if (major < 1 || major > 3) throw UsageError(where + " has format version " + std::to_string(major) + " (reads 1 to 3)");
  std::uint64_t header_bytes = 0;
  std::uint64_t preamble = 0;
  if (major == 1) {
    in_.read(reinterpret_cast<char*>(prefix + 8), 2);
    header_bytes = little_endian(prefix + 8, 2);
    preamble = 10;
  } else {
    in_.read(reinterpret_cast<char*>(prefix + 8), 4);
    header_bytes = little_endian(prefix + 8, 4);
    preamble = 12;
  }
  if (!in_) throw UsageError(where + " is truncated inside its preamble");
  if (header_bytes > kMaxNpyHeaderBytes) {
    throw UsageError(where + " declares a header of " + std::to_string(header_bytes) + " bytes, over the " +
                     std::to_string(kMaxNpyHeaderBytes) + "-byte limit");
  }
  if (preamble + header_bytes > file_bytes) {
    throw UsageError(where + " is truncated: its header of " + std::to_string(header_bytes) + " bytes runs past the " +
                     std::to_string(file_bytes) + "-byte file");
  }
  std::string header(header_bytes, '\0');
  in_.read(header.data(), static_cast<std::streamsize>(header_bytes));
  if (!in_) throw UsageError(where + " cannot be read");
  TensorEntry t;
  t.name = std::filesystem::path(path_).stem().string();
  NpyHeader(header, where).parse(t.dtype, t.fortran_order, t.shape);
  const std::string& d = t.dtype;
  if (d.size() != 3 || (d[0] != '<' && d[0] != '>' && d[0] != '|' && d[0] != '=') || d[1] != 'f' ||
      (d[2] != '2' && d[2] != '4' && d[2] != '8')) {
    throw UsageError(where + " has dtype " + quoted(d) + "; analyze reads float64, float32 and float16 ('<f8', '<f4', '<f2')");
  }
  t.big_endian = d[0] == '>';
  t.kind = d[2] == '8' ? ElementType::kF64 : d[2] == '4' ? ElementType::kF32 : ElementType::kF16;
  t.elements = element_count(t.shape, where);
  t.offset = preamble + header_bytes;
  const std::uint64_t needed = t.elements * static_cast<std::uint64_t>(element_bytes(t.kind));
  if (file_bytes - t.offset < needed) {
    throw UsageError(where + " is truncated: its shape and dtype need " + std::to_string(needed) +
                     " bytes of data, the file holds " + std::to_string(file_bytes - t.offset));
  }
  tensors_.push_back(std::move(t));
}

std::vector<double> TensorFile::read(const TensorEntry& t) {
  const std::string at = "tensor file '" + path_ + "': tensor " + quoted(t.name);
  const std::size_t size = static_cast<std::size_t>(element_bytes(t.kind));
  std::vector<double> values(static_cast<std::size_t>(t.elements));
  std::vector<unsigned char> chunk(std::min<std::size_t>(values.size(), kChunkElements) * size);
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(t.offset));
  for (std::size_t done = 0; done < values.size();) {
    const std::size_t n = std::min(kChunkElements, values.size() - done);
    in_.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(n * size));
    if (!in_) throw UsageError(at + " cannot be read whole (the file shrank?)");
    for (std::size_t i = 0; i < n; ++i) {
      const double v = decode(chunk.data() + i * size, t.kind, t.big_endian);
      if (!std::isfinite(v)) {
        throw UsageError(at + " holds a non-finite value (" + std::string(std::isnan(v) ? "nan" : "inf") +
                         ") at element " + std::to_string(done + i));
      }
      values[done + i] = v;
    }
    done += n;
  }
  if (!t.fortran_order || t.shape.size() < 2) return values;
  // Column-major on disk: element (i0, ..., i_{n-1}) at sum i_k prod_{j<k} d_j.
  std::vector<double> c_order(values.size());
  const std::size_t rank = t.shape.size();
  std::vector<std::int64_t> index(rank, 0);
  for (std::size_t c = 0; c < c_order.size(); ++c) {
    std::size_t f = 0;
    std::size_t stride = 1;
    for (std::size_t k = 0; k < rank; ++k) {
      f += static_cast<std::size_t>(index[k]) * stride;
      stride *= static_cast<std::size_t>(t.shape[k]);
    }
    c_order[c] = values[f];
    for (std::size_t k = rank; k-- > 0;) {
      if (++index[k] < t.shape[k]) break;
      index[k] = 0;
    }
  }
  return c_order;
}

}  // namespace polar_express::cli
