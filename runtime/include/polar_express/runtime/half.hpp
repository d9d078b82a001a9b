#pragma once
// 16-bit floating-point elements as bit patterns: IEEE 754 binary16 (fp16)
// and bfloat16, to and from float.  Widening is exact; narrowing rounds to
// nearest, ties to even, overflows to infinity and keeps a NaN a (quiet)
// NaN.  The CPU backend reads and writes 16-bit batches with these (it
// computes in float).
#include <cmath>
#include <cstdint>
#include <cstring>

namespace polar_express::runtime {

inline float bits_to_float(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline std::uint32_t float_to_bits(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t{h & 0x8000u} << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return bits_to_float(sign | 0x7f800000u | mantissa << 13);  // infinity or NaN
  return bits_to_float(sign | (exponent + 112) << 23 | mantissa << 13);              // rebias 15 -> 127
}

inline std::uint16_t float_to_half(float value) {
  std::uint32_t x = float_to_bits(value);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | (x >> 13 & 0x3ffu));  // NaN, quiet
  // From 65520 (halfway between the largest half, 65504, and 2^16) up: infinity.
  if (x >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (x < 0x38800000u) {  // below 2^-14: a subnormal half, |value| * 2^24 rounded to an integer
    const float scaled = bits_to_float(x) * 0x1p24f;  // exact: a power of two, no overflow
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(scaled)));
  }
  // Rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest
  // even; a carry out of the mantissa moves to the exponent, as it should.
  const std::uint32_t odd = (x >> 13) & 1u;
  x += 0xc8000fffu + odd;
  return static_cast<std::uint16_t>(sign | (x >> 13));
}

inline float bfloat16_to_float(std::uint16_t b) { return bits_to_float(std::uint32_t{b} << 16); }

inline std::uint16_t float_to_bfloat16(float value) {
  const std::uint32_t x = float_to_bits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // NaN, quiet
  const std::uint32_t odd = (x >> 16) & 1u;
  return static_cast<std::uint16_t>((x + 0x7fffu + odd) >> 16);
}

}  // namespace polar_express::runtime
