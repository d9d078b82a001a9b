#pragma once
// The words every layer shares, defined once: element types, the
// normalisation kinds and their parameters, the rule for steps past the end
// of a list, when an iterate has diverged, and the AOL rescaling.  The
// solver, codegen, the CLI, the Python extension, the runtime's backends and
// the CUDA kernels all take them from here.
//
// C++17 and the standard library only.  The functions marked
// POLAR_EXPRESS_HOST_DEVICE are the definitions the CUDA kernels use too:
// nvcc compiles them for the device as well.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#ifdef __CUDACC__
#define POLAR_EXPRESS_HOST_DEVICE __host__ __device__
#else
#define POLAR_EXPRESS_HOST_DEVICE
#endif

namespace polar_express {
namespace vocabulary_detail {

// "a, b or c" from a table's names.
template <class Table>
std::string names_of(const Table& table) {
  std::string text;
  const std::size_t count = std::size(table);
  for (std::size_t i = 0; i < count; ++i) {
    text += (i == 0 ? "" : i + 1 == count ? " or " : ", ") + std::string(table[i].name);
  }
  return text;
}

// The entry of `table` that `matches` accepts; std::invalid_argument naming
// `what`, the text and the table's names otherwise.
template <class Table, class Matches>
const auto& find_entry(const Table& table, Matches matches, std::string_view text, const char* what) {
  for (const auto& entry : table) {
    if (matches(entry)) return entry;
  }
  throw std::invalid_argument(std::string(what) + " '" + std::string(text) + "' is not " + names_of(table));
}

// The entry named `text`.
template <class Table>
const auto& entry_named(const Table& table, std::string_view text, const char* what) {
  return find_entry(table, [&](const auto& entry) { return text == entry.name; }, text, what);
}

// Whether each entry of `table` sits at the index of its enumerator, as
// info() assumes.
template <class Table>
constexpr bool in_enum_order(const Table& table) {
  for (std::size_t i = 0; i < std::size(table); ++i) {
    if (static_cast<std::size_t>(table[i].value) != i) return false;
  }
  return true;
}

}  // namespace vocabulary_detail

// ------------------------------------------------------------ element types

// What matrices are stored in.  Products accumulate in at least f32.
enum class ElementType { kF64, kF32, kF16, kBF16 };

struct ElementTypeInfo {
  ElementType value;
  const char* name;          // the CLI's --dtype and the JSON documents: "bf16"
  const char* array_name;    // numpy's, torch's and DLPack's: "bfloat16"
  int bits;                  // of storage
  int significand_bits;      // with the implicit one: the unit roundoff is 2^-significand_bits
  int min_exponent;          // normal numbers from 2^min_exponent
  int max_exponent;          // finite numbers below 2^max_exponent
};

// In the order of ElementType.
inline constexpr ElementTypeInfo kElementTypes[] = {
    {ElementType::kF64, "f64", "float64", 64, 53, -1022, 1024},
    {ElementType::kF32, "f32", "float32", 32, 24, -126, 128},
    {ElementType::kF16, "f16", "float16", 16, 11, -14, 16},
    {ElementType::kBF16, "bf16", "bfloat16", 16, 8, -126, 128},
};

static_assert(vocabulary_detail::in_enum_order(kElementTypes));

constexpr const ElementTypeInfo& info(ElementType type) { return kElementTypes[static_cast<int>(type)]; }
inline const char* to_string(ElementType type) { return info(type).name; }
constexpr int significand_bits(ElementType type) { return info(type).significand_bits; }
constexpr std::size_t element_bytes(ElementType type) { return static_cast<std::size_t>(info(type).bits / 8); }

// The element type of a C++ arithmetic type the runtime computes in.
template <class T>
constexpr ElementType element_type_of() {
  static_assert(std::is_same_v<T, double> || std::is_same_v<T, float>, "double or float");
  return std::is_same_v<T, double> ? ElementType::kF64 : ElementType::kF32;
}

// By either spelling ("bf16" or "bfloat16"); std::invalid_argument naming
// the text and the four names otherwise.
inline ElementType parse_element_type(std::string_view text) {
  const auto spelled = [&](const ElementTypeInfo& entry) { return text == entry.name || text == entry.array_name; };
  return vocabulary_detail::find_entry(kElementTypes, spelled, text, "dtype").value;
}

// ------------------------------------------------------------ normalisation

// How the input is scaled before the first step, so that its singular
// values lie in (0, 1]:
//   kFrobenius: X = G / (factor ||G||_F + eps) (frobenius_ratio below), every
//               singular value at most 1 / factor.
//   kAol:       the almost-orthogonal-layer rescaling (Turbo-Muon's; see
//               aol_row_scale below), which bounds every singular value by 1
//               and lifts the small ones; factor and eps are unused.
// A kind is added here (its row in kNormalizationKinds) and in each backend's
// implementation of it; everything that names, reads, writes or checks a
// normalisation goes through this table.
enum class NormalizationKind { kFrobenius, kAol };

struct NormalizationKindInfo {
  NormalizationKind value;
  const char* name;  // the JSON documents' and Python's spelling
  const char* text;  // as a schedule's "normalization" text spells it (Frobenius: with its numbers)
};

// In the order of NormalizationKind.
inline constexpr NormalizationKindInfo kNormalizationKinds[] = {
    {NormalizationKind::kFrobenius, "frobenius", "X / (factor * ||X||_F + eps)"},
    {NormalizationKind::kAol, "aol", "AOL"},
};

static_assert(vocabulary_detail::in_enum_order(kNormalizationKinds));

constexpr const NormalizationKindInfo& info(NormalizationKind kind) {
  return kNormalizationKinds[static_cast<int>(kind)];
}
inline const char* to_string(NormalizationKind kind) { return info(kind).name; }
inline NormalizationKind parse_normalization_kind(std::string_view text) {
  return vocabulary_detail::entry_named(kNormalizationKinds, text, "normalization").value;
}

// A normalisation and its parameters.
struct Normalization {
  double factor = 1.0;
  double eps = 0.0;
  NormalizationKind kind = NormalizationKind::kFrobenius;
};

// The Frobenius normalisation as every backend computes it: with m = max|g|
// and s = sum (g / m)^2 (so ||G||_F = m sqrt(s), s >= 1), x = (g / m) * ratio
// where ratio = m / (factor ||G||_F + eps) = 1 / (factor sqrt(s) + eps / m).
// Formed this way nothing overflows: ratio <= 1 / factor, and eps / m only
// underflows where the exact result is below the smallest double as well.
POLAR_EXPRESS_HOST_DEVICE inline double frobenius_ratio(double largest, double sum_of_squares, double factor,
                                                        double eps) {
  return 1.0 / (factor * std::sqrt(sum_of_squares) + eps / largest);
}

// The AOL rescaling as every backend applies it and `analyze` measures it:
// the input is first divided by max|g| (which keeps the Gram matrix in range;
// the result does not depend on the input's scale); then with
// A the k x k Gram matrix of the short side (X X^T for a wide X, X^T X for a
// tall one), D = diag(d_i) with d_i = aol_row_scale(sum_j |A_ij|), and X
// becomes D X (wide) or X D (tall).  By the Schur test ||D X||_2 <= 1.  A zero
// row of A is a zero row of X, which stays zero.
template <class T>
POLAR_EXPRESS_HOST_DEVICE inline T aol_row_scale(T absolute_row_sum) {
  return absolute_row_sum > T(0) ? T(1) / std::sqrt(absolute_row_sum) : T(0);
}

// d_i for every row of a k x k Gram matrix (row-major or symmetric).
template <class T>
void aol_diagonal(const T* gram, std::int64_t k, double* d) {
  for (std::int64_t i = 0; i < k; ++i) {
    double sum = 0;
    for (std::int64_t j = 0; j < k; ++j) sum += std::abs(static_cast<double>(gram[i * k + j]));
    d[i] = aol_row_scale(sum);
  }
}

// ------------------------------------------------------------ after the list

// Which polynomial runs at a step past the end of a schedule's list.
enum class AfterList { kRepeatLast, kCycle };

struct AfterListInfo {
  AfterList value;
  const char* name;         // the JSON documents' and Python's spelling
  const char* description;  // "Steps past the list ..."
};

// In the order of AfterList.
inline constexpr AfterListInfo kAfterListRules[] = {
    {AfterList::kRepeatLast, "repeat_last", "repeat the last step"},
    {AfterList::kCycle, "cycle", "run the list again from its first step"},
};

static_assert(vocabulary_detail::in_enum_order(kAfterListRules));

constexpr const AfterListInfo& info(AfterList rule) { return kAfterListRules[static_cast<int>(rule)]; }
inline const char* to_string(AfterList rule) { return info(rule).name; }
inline AfterList parse_after_list(std::string_view text) {
  return vocabulary_detail::entry_named(kAfterListRules, text, "after_list").value;
}

// The entry of a list of `size` (>= 1) polynomials that step t (0-based) runs.
POLAR_EXPRESS_HOST_DEVICE constexpr std::size_t list_index(std::size_t t, std::size_t size, AfterList rule) {
  return t < size ? t : rule == AfterList::kCycle ? t % size : size - 1;
}

// ------------------------------------------------------------ divergence

// Whether an iterate with ||X||_F^2 = `squared_norm` and short side k is no
// polar-factor estimate: its k singular values, which should all be near 1,
// have a mean square above 4 (or the norm is not a number).  Every backend
// then reports the matrix as diverged and writes NaN.
POLAR_EXPRESS_HOST_DEVICE constexpr bool iterate_diverged(double squared_norm, std::int64_t short_side) {
  return !(squared_norm <= 4.0 * static_cast<double>(short_side));
}

}  // namespace polar_express
