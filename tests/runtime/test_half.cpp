// 16-bit elements: the fp16 and bf16 conversions against independent
// references (the compiler's _Float16 where it has one; for bf16 the nearer
// of the two neighbouring bf16 values by exact double arithmetic), and float
// plans reading and writing 16-bit batches exactly as a float plan on the
// widened batch, rounded.
#include "support.hpp"

#include "polar_express/runtime/cpu.hpp"
#include "polar_express/runtime/half.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace rt = polar_express::runtime;

namespace {

// Floats to round: a stride through every bit pattern, and around each
// 16-bit value the exact halfway points and their float neighbours.
std::vector<float> sample_floats(bool half_grid) {
  std::vector<float> values;
  for (std::uint64_t bits = 0; bits <= 0xffffffffu; bits += 0x10001) values.push_back(rt::bits_to_float(std::uint32_t(bits)));
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float a = half_grid ? rt::half_to_float(std::uint16_t(h)) : rt::bfloat16_to_float(std::uint16_t(h));
    const float b = half_grid ? rt::half_to_float(std::uint16_t(h + 1)) : rt::bfloat16_to_float(std::uint16_t(h + 1));
    if (!std::isfinite(a) || !std::isfinite(b)) continue;
    const float mid = static_cast<float>((static_cast<double>(a) + b) / 2);  // exact: one more bit
    values.insert(values.end(), {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f), std::nextafter(mid, -1e30f)});
  }
  for (float v : {65504.0f, 65519.996f, 65520.0f, 65536.0f, 1e30f, 0x1p-24f, 0x1p-25f, 0x1.000002p-25f, 0x1p-26f,
                  0x1p-14f, 0x1.ff8p-15f, std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                  0.0f, -0.0f}) {
    values.push_back(v);
    values.push_back(-v);
  }
  return values;
}

bool same_bits_or_both_nan(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return rt::float_to_bits(a) == rt::float_to_bits(b);
}

// The bf16 nearest to v (ties to the even pattern), by distance in double.
std::uint16_t nearest_bfloat16(float v) {
  const std::uint32_t bits = rt::float_to_bits(v);
  const auto down = static_cast<std::uint16_t>(bits >> 16);
  if ((bits & 0xffffu) == 0) return down;
  const auto up = static_cast<std::uint16_t>(down + 1);  // away from zero, may reach infinity
  // Infinity stands for 2^128 here: IEEE rounds as if the exponent were
  // unbounded, then overflows.
  const auto value_of = [](std::uint16_t b) {
    const double d = rt::bfloat16_to_float(b);
    return std::isinf(d) ? std::copysign(0x1p128, d) : d;
  };
  const double below = std::abs(static_cast<double>(v) - value_of(down));
  const double above = std::abs(static_cast<double>(v) - value_of(up));
  if (below != above) return below < above ? down : up;
  return (down & 1u) == 0 ? down : up;
}

}  // namespace

TEST_CASE("bf16 widens exactly and narrows to the nearest, ties to even", "[half]") {
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const float f = rt::bfloat16_to_float(std::uint16_t(b));
    if (std::isnan(f)) {
      CHECK(std::isnan(rt::bfloat16_to_float(rt::float_to_bfloat16(f))));
      continue;
    }
    REQUIRE(rt::float_to_bfloat16(f) == b);  // round trip
  }
  long mismatches = 0;
  for (float v : sample_floats(false)) {
    if (std::isnan(v)) {
      mismatches += std::isnan(rt::bfloat16_to_float(rt::float_to_bfloat16(v))) ? 0 : 1;
      continue;
    }
    if (rt::float_to_bfloat16(v) != nearest_bfloat16(v)) ++mismatches;
  }
  CHECK(mismatches == 0);
}

#if defined(__FLT16_MANT_DIG__)
TEST_CASE("fp16 conversions agree with the compiler's _Float16 on every half and the sampled floats", "[half]") {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    _Float16 reference;
    const auto bits = static_cast<std::uint16_t>(h);
    std::memcpy(&reference, &bits, 2);
    REQUIRE(same_bits_or_both_nan(rt::half_to_float(bits), static_cast<float>(reference)));
  }
  long mismatches = 0;
  for (float v : sample_floats(true)) {
    const _Float16 reference = static_cast<_Float16>(v);
    std::uint16_t expected;
    std::memcpy(&expected, &reference, 2);
    const std::uint16_t got = rt::float_to_half(v);
    const bool nan = std::isnan(v);
    if (nan ? !std::isnan(rt::half_to_float(got)) : got != expected) ++mismatches;
  }
  CHECK(mismatches == 0);
}
#endif

TEST_CASE("fp16 by its definition: 1, the extremes, subnormals, overflow", "[half]") {
  CHECK(rt::float_to_half(1.0f) == 0x3c00);
  CHECK(rt::float_to_half(-2.0f) == 0xc000);
  CHECK(rt::float_to_half(65504.0f) == 0x7bff);
  CHECK(rt::float_to_half(65519.0f) == 0x7bff);
  CHECK(rt::float_to_half(65520.0f) == 0x7c00);  // halfway to 2^16: to even, infinity
  CHECK(rt::float_to_half(0x1p-24f) == 0x0001);  // smallest subnormal
  CHECK(rt::float_to_half(0x1p-25f) == 0x0000);  // halfway to it: to even, zero
  CHECK(rt::float_to_half(0x1.8p-24f) == 0x0002);  // 1.5 ulp: to even, 2
  CHECK(rt::float_to_half(0x1p-14f) == 0x0400);  // smallest normal
  CHECK(rt::half_to_float(0x0001) == 0x1p-24f);
  CHECK(rt::half_to_float(0x7bff) == 65504.0f);
  CHECK(std::isinf(rt::half_to_float(0xfc00)));
  CHECK(std::isnan(rt::half_to_float(rt::float_to_half(std::nanf("")))));
}

namespace {

// A float plan's result on the widened batch, rounded back: what a 16-bit
// execute must give bit for bit (same program, same thread split).
template <class Widen, class Narrow>
void check_16bit(rt::ElementType dtype, Widen widen, Narrow narrow, const rt::BatchShape& shape) {
  std::mt19937_64 rng(5);
  std::normal_distribution<float> gaussian;
  std::vector<std::uint16_t> input(static_cast<std::size_t>(shape.batch * shape.rows * shape.cols));
  for (std::uint16_t& v : input) v = narrow(gaussian(rng));
  std::vector<float> widened(input.size()), reference(input.size());
  for (std::size_t i = 0; i < input.size(); ++i) widened[i] = widen(input[i]);
  rt::PlanOptions options;
  options.threads = 1;
  options.nuclear_norm = true;
  rt::CpuPlan<float> plan(shape, rt::test::nanochat_schedule(), options);
  REQUIRE(plan.execute(widened.data(), reference.data()));
  const std::vector<double> nuclear = plan.report().nuclear_norms;

  std::vector<std::uint16_t> output(input.size());
  REQUIRE(plan.execute(input.data(), output.data(), dtype));
  long differing = 0;
  for (std::size_t i = 0; i < input.size(); ++i) differing += output[i] == narrow(reference[i]) ? 0 : 1;
  CHECK(differing == 0);
  CHECK(plan.report().nuclear_norms == nuclear);

  std::vector<std::uint16_t> in_place = input;
  REQUIRE(plan.execute(in_place.data(), in_place.data(), dtype));
  CHECK(in_place == output);

  // A NaN in one matrix: that matrix all NaN, the others as before.
  std::vector<std::uint16_t> poisoned = input;
  poisoned[3] = narrow(std::nanf(""));
  std::vector<std::uint16_t> out(input.size());
  CHECK_FALSE(plan.execute(poisoned.data(), out.data(), dtype));
  CHECK(plan.report().status[0] == rt::MatrixStatus::kNonFinite);
  const auto matrix = static_cast<std::size_t>(shape.rows * shape.cols);
  for (std::size_t i = 0; i < matrix; ++i) REQUIRE(std::isnan(widen(out[i])));
  CHECK(std::equal(out.begin() + static_cast<std::ptrdiff_t>(matrix), out.end(),
                   output.begin() + static_cast<std::ptrdiff_t>(matrix)));
}

}  // namespace

TEST_CASE("float plans run f16 and bf16 batches, converting as they read and write", "[cpu][half]") {
  for (const rt::BatchShape& shape : {rt::BatchShape{3, 24, 40}, rt::BatchShape{2, 70, 20}}) {
    CAPTURE(shape.batch, shape.rows, shape.cols);
    check_16bit(rt::ElementType::kF16, rt::half_to_float, rt::float_to_half, shape);
    check_16bit(rt::ElementType::kBF16, rt::bfloat16_to_float, rt::float_to_bfloat16, shape);
  }
  rt::CpuPlan<float> plan({1, 4, 4}, rt::test::nanochat_schedule());
  std::vector<std::uint16_t> data(16, 0x3c00);
  CHECK_THROWS_AS(plan.execute(data.data(), data.data(), rt::ElementType::kF32), std::invalid_argument);
}
