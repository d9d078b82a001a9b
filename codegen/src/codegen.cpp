#include "polar_express/codegen/codegen.hpp"

#include "emitters.hpp"
#include "polar_express/solver/schedule_io.hpp"

#include <cmath>
#include <set>
#include <utility>
#include <stdexcept>

namespace polar_express::codegen {
namespace {

// Spellings an identifier may not take: keywords of C++20 and Python 3, and
// the names the generated files define next to it.
const std::set<std::string>& forbidden_identifiers() {
  static const std::set<std::string> names{
      // C++
      "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
      "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
      "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default",
      "delete", "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false",
      "float", "for", "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new",
      "noexcept", "not", "not_eq", "nullptr", "operator", "or", "or_eq", "private", "protected", "public",
      "register", "reinterpret_cast", "requires", "return", "short", "signed", "sizeof", "static",
      "static_assert", "static_cast", "struct", "switch", "template", "this", "thread_local", "throw", "true",
      "try", "typedef", "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile",
      "wchar_t", "while", "xor", "xor_eq",
      // Python
      "False", "None", "True", "as", "assert", "async", "await", "def", "del", "elif", "except", "finally",
      "from", "global", "import", "in", "is", "lambda", "nonlocal", "pass", "raise", "with", "yield",
      // Defined by the generated files themselves.
      "OddPolynomialStep", "StepCertificate", "DesignInputs", "ScheduleInfo", "torch", "NAME", "COEFFICIENTS",
      "CERTIFIED_ERRORS", "_step_coefficients"};
  return names;
}

// Every coefficient a target writes as a double (cpp, torch) or float
// (cpp's f32 table, cuda) must be finite there: a coefficient of 1e300 is a
// double but no float.  The message names the field.
void check_coefficients(const Schedule& s, Target target) {
  if (target == Target::kJson) return;
  const bool floats = target == Target::kCpp || target == Target::kCuda;
  for (std::size_t t = 0; t < s.steps.size(); ++t) {
    const std::vector<Real>& coefficients = s.steps[t].polynomial.coefficients;
    for (std::size_t k = 0; k < coefficients.size(); ++k) {
      const bool as_double = std::isfinite(to_double(coefficients[k], Rounding::kNearest));
      if (!as_double || (floats && !std::isfinite(to_float(coefficients[k], Rounding::kNearest)))) {
        throw std::invalid_argument("schedule '" + s.name + "' step " + std::to_string(t + 1) + " coefficient " +
                                    std::to_string(k + 1) + " " + to_decimal(coefficients[k], 17) +
                                    " is not finite as a " + (as_double ? "float" : "double") + ", which the " +
                                    to_string(target) + " target writes");
      }
    }
  }
}

// The certified numbers the cpp and torch targets write as doubles must be
// finite: a schedule that diverges on its input interval has errors beyond
// any double.
void check_certificate(const Schedule& certified, Target target) {
  for (std::size_t t = 0; t < certified.steps.size(); ++t) {
    const ScheduleStep& step = certified.steps[t];
    const std::string at = "step " + std::to_string(t + 1);
    for (const auto& [value, field] : {std::pair<const Real*, const char*>{&step.error_enclosure.upper,
                                                                           " certified error (it diverges on its input interval)"},
                                       {&step.interval.upper, " interval upper bound"}}) {
      if (!std::isfinite(to_double(*value, Rounding::kUp))) {
        throw std::invalid_argument("schedule '" + certified.name + "' " + at + field + " " + to_decimal(*value, 17) +
                                    " is not finite as a double, which the " + to_string(target) + " target writes");
      }
    }
  }
}

}  // namespace

Target parse_target(const std::string& text) {
  if (text == "cpp") return Target::kCpp;
  if (text == "cuda") return Target::kCuda;
  if (text == "json") return Target::kJson;
  if (text == "torch") return Target::kTorch;
  throw std::invalid_argument("unknown target '" + text + "' (expected cpp, cuda, json or torch)");
}

std::string to_string(Target target) {
  switch (target) {
    case Target::kCpp: return "cpp";
    case Target::kCuda: return "cuda";
    case Target::kJson: return "json";
    case Target::kTorch: return "torch";
  }
  throw std::invalid_argument("unknown target");
}

std::string identifier(const std::string& schedule_name) {
  std::string id = schedule_name;
  for (char& c : id) {
    if (c == '-') c = '_';
  }
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("schedule name '" + schedule_name + "' does not make an identifier: " + why);
  };
  if (id.empty()) fail("it is empty");
  if (id[0] >= '0' && id[0] <= '9') fail("it starts with a digit");
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) fail(std::string("it contains '") + c + "' (only letters, digits, '-' and '_' are allowed)");
  }
  // Reserved to the C++ implementation in every scope.
  if (id.find("__") != std::string::npos) fail("it contains a double underscore");
  if (id.size() > 1 && id[0] == '_' && id[1] >= 'A' && id[1] <= 'Z') fail("it starts with '_' and a capital");
  if (forbidden_identifiers().count(id)) fail("'" + id + "' is a keyword or a name the generated code uses");
  return id;
}

Schedule certified(Schedule schedule) {
  if (schedule.steps.empty()) throw std::invalid_argument("schedule '" + schedule.name + "' has no steps");
  certify(schedule.steps, schedule.input, schedule.precision_bits);
  schedule.final_error = schedule.steps.back().error_after;
  schedule.final_error_enclosure = schedule.steps.back().error_enclosure;
  return schedule;
}

std::vector<GeneratedFile> emit(const Schedule& schedule, Target target) {
  validate(schedule);
  // JSON and the C++ tables carry the normalisation (its text and kind) for
  // the runtime to apply; the CUDA kernel sets and the PyTorch function apply
  // it themselves, and only the Frobenius form.
  if (target == Target::kCuda || target == Target::kTorch) {
    require_frobenius_normalization(schedule, "the " + to_string(target) + " target");
  }
  const std::string id = identifier(schedule.name);
  // Every target evaluates c0 X + (c1 A + ...) X, which needs an x^3 term.
  for (std::size_t t = 0; t < schedule.steps.size(); ++t) {
    if (schedule.steps[t].polynomial.coefficients.size() < 2) {
      throw std::invalid_argument("schedule '" + schedule.name + "' step " + std::to_string(t + 1) +
                                  " has degree " + std::to_string(schedule.steps[t].degree()) +
                                  "; every step needs degree >= 3");
    }
  }
  check_coefficients(schedule, target);
  // Each target's files certify exactly the numbers they hold.
  switch (target) {
    case Target::kCpp: {
      const Schedule doubles = rounded_to(schedule, ElementType::kF64);
      const Schedule floats = rounded_to(schedule, ElementType::kF32);
      check_certificate(doubles, target);
      check_certificate(floats, target);
      return {{id + ".hpp", detail::cpp_header(schedule, doubles, floats, id)}};
    }
    case Target::kCuda: return detail::cuda_sources(rounded_to(schedule, ElementType::kF32), id);
    case Target::kJson: return {{id + ".json", to_json(certified(schedule))}};
    case Target::kTorch: {
      const Schedule doubles = rounded_to(schedule, ElementType::kF64);
      check_certificate(doubles, target);
      return {{id + ".py", detail::torch_module(doubles, id)}};
    }
  }
  throw std::invalid_argument("unknown target");
}

GeneratedFile registry(const std::vector<Schedule>& schedules, Target target) {
  if (target != Target::kCpp && target != Target::kCuda) {
    throw std::invalid_argument("a registry is emitted for the cpp and cuda targets, not " + to_string(target));
  }
  if (schedules.empty()) throw std::invalid_argument("a registry needs at least one schedule");
  std::set<std::string> seen;
  std::vector<std::string> names;
  for (const Schedule& s : schedules) {
    if (!seen.insert(identifier(s.name)).second) {
      throw std::invalid_argument("schedule '" + s.name + "' appears twice in the registry (by name or identifier)");
    }
    names.push_back(s.name);
  }
  return target == Target::kCpp ? detail::cpp_registry(names) : detail::cuda_registry(names);
}

}  // namespace polar_express::codegen
