// Reading schedules: this tool's schema (polar-express/schedule/v1) and the
// published-list format of shared/reference/published_schedules.json.
//
// Accepted documents (a JSON object at the top):
//  * {"schema": "polar-express/schedule/v1", ...} as to_json() writes it.
//    Only "steps[].coefficients" is required; "degree", when present, must
//    be 2q - 1 for q coefficients.  The certified fields (lower, upper,
//    error_after, final_error) are ignored: certify() recomputes them.
//  * One published-list object: {"name", "steps": [[a, b, c], ...]} or
//    {"name", "raw_steps": [...], "design": {... "safety": s,
//    "safety_mode": "posthoc"}}, whose tuples but the last are then divided
//    by (1+s)^(2k+1) (the paper's Algorithm 1).
//  * A whole published file {"schedules": [...]} holding exactly one list
//    (with several, the caller must pick one; the message names them).
// A tuple of q >= 1 coefficients is the odd polynomial of degree 2q - 1
// (the published cubics are [a, b]); empty tuples, more than 128
// coefficients (degree 255, the design limit), non-numeric or non-finite
// values are rejected.  Coefficients may be JSON numbers or decimal strings;
// either way the decimal text is read exactly (never through a double): the
// step's exact_coefficients hold the rational it denotes ("3.4445" is
// 34445/10000), which the certificates are about, and its polynomial that
// rational rounded once to the precision.  In this tool's schema with
// "method": "polar-express" (a design) the coefficients are the binary
// values their decimals round to at "precision_bits": the design's own.
#include "polar_express/solver/schedule_io.hpp"

#include "published_format.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace polar_express {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxCoefficients = 128;   // degree 255
constexpr std::size_t kMaxListSteps = 4096;     // far beyond any published list
constexpr std::uintmax_t kMaxFileBytes = 16u << 20;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw ScheduleFormatError(where.empty() ? what : where + ": " + what);
}

// Text safe to quote on one line of an error message.
std::string quote_text(const std::string& text) {
  const std::string cut = text.size() > 60 ? text.substr(0, 60) + "..." : text;
  return Json(cut).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The document, built from SAX events like nlohmann's own DOM parser but
// keeping each non-integer number as its source text, stored as a binary
// value: JSON text never produces binary values, so a number cannot be
// mistaken for a string, and "3.4445" is not replaced by the nearest double.
class TextPreservingBuilder {
 public:
  explicit TextPreservingBuilder(Json& root) : root_(root) {}

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool value) { return put(Json(value)); }
  bool number_integer(Json::number_integer_t value) { return put(Json(value)); }
  bool number_unsigned(Json::number_unsigned_t value) { return put(Json(value)); }
  bool number_float(Json::number_float_t /*rounded*/, const std::string& text) {
    return put(Json::binary(Json::binary_t::container_type(text.begin(), text.end())));
  }
  bool string(std::string& value) { return put(Json(std::move(value))); }
  bool binary(Json::binary_t& value) { return put(Json::binary(std::move(value))); }
  bool start_object(std::size_t /*size*/) { return open(Json::object()); }
  bool key(std::string& name) {
    if (open_.back()->contains(name)) fail("", "duplicate key " + quote_text(name));
    key_ = std::move(name);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*size*/) { return open(Json::array()); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/, const Json::exception& error) {
    // nlohmann's message starts with "[json.exception.parse_error.101] ".
    std::string message = error.what();
    const std::size_t tag_end = message.find("] ");
    if (tag_end != std::string::npos) message.erase(0, tag_end + 2);
    fail("", "not valid JSON: " + message);
  }

 private:
  Json* put(Json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    return &(parent[key_] = std::move(value));
  }
  // Pointers stay valid: a container only grows while it is the innermost
  // open one, and by then no pointer into it is held.
  bool open(Json container) {
    open_.push_back(put(std::move(container)));
    return true;
  }
  bool close() {
    open_.pop_back();
    return true;
  }

  Json& root_;
  std::vector<Json*> open_;
  std::string key_;
};

Json parse_document(const std::string& text) {
  Json root;
  TextPreservingBuilder builder(root);
  Json::sax_parse(text, &builder);
  return root;
}

std::string kind_of(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return "the integer " + v.dump();
  if (v.is_binary()) return "the number " + std::string(v.get_binary().begin(), v.get_binary().end());
  if (v.is_string()) return "the string " + quote_text(v.get<std::string>());
  if (v.is_array()) return "an array";
  return "an object";
}

const Json* find(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string join(const std::string& where, const std::string& what) {
  return where.empty() ? what : where + ", " + what;
}

// The decimal text of a number or numeric string, or nullopt.
std::optional<std::string> numeric_text(const Json& v) {
  if (v.is_binary()) return std::string(v.get_binary().begin(), v.get_binary().end());
  if (v.is_number_integer()) return v.dump();
  if (v.is_string()) return v.get<std::string>();
  return std::nullopt;
}

struct Number {
  Real value;
  std::string text;
};

Number read_number(const Json& v, const std::string& where, unsigned bits) {
  const std::optional<std::string> text = numeric_text(v);
  if (!text) fail(where, kind_of(v) + " is not a number");
  Real value;
  try {
    value = parse_real(*text, bits);
  } catch (const std::invalid_argument&) {
    fail(where, quote_text(*text) + " is not a number");
  }
  if (!boost::multiprecision::isfinite(value)) fail(where, quote_text(*text) + " is not finite");
  return {std::move(value), *text};
}

long long read_integer(const Json& v, const std::string& where, long long lo, long long hi) {
  if (!v.is_number_integer()) fail(where, kind_of(v) + " is not an integer");
  const bool in_range = v.is_number_unsigned() ? v.get<unsigned long long>() <= static_cast<unsigned long long>(hi)
                                               : (v.get<long long>() >= lo && v.get<long long>() <= hi);
  if (!in_range) fail(where, v.dump() + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v.get<long long>();
}

std::string read_string(const Json& v, const std::string& where) {
  if (!v.is_string()) fail(where, kind_of(v) + " is not a string");
  return v.get<std::string>();
}

const Json& require_object(const Json& v, const std::string& where) {
  if (!v.is_object()) fail(where, kind_of(v) + " is not an object");
  return v;
}

AfterList read_after_list(const Json* v, const std::string& where) {
  if (v == nullptr) return AfterList::kRepeatLast;
  const std::string rule = read_string(*v, join(where, "after_list"));
  try {
    return parse_after_list(rule);
  } catch (const std::invalid_argument& e) {
    fail(where, e.what());
  }
}

// The exact value of a number's text, which read_number has accepted.
Rational exact_value(const Number& n, const std::string& where) {
  std::optional<Rational> exact = parse_decimal_exactly(n.text);
  if (!exact) {
    fail(where, quote_text(n.text) + " has a decimal exponent beyond +-" + std::to_string(kMaxDecimalExponent));
  }
  return std::move(*exact);
}

// A step's polynomial from its coefficient list: the exact values of the
// decimal texts, and those correctly rounded to `bits`.
ScheduleStep read_coefficients(const Json& v, const std::string& where, unsigned bits) {
  if (!v.is_array()) fail(where, "coefficients are " + kind_of(v) + ", not an array");
  if (v.empty()) fail(where, "the coefficient list is empty");
  if (v.size() > kMaxCoefficients) {
    fail(where, std::to_string(v.size()) + " coefficients (degree " + std::to_string(2 * v.size() - 1) +
                    ") exceed the limit of " + std::to_string(kMaxCoefficients) + " (degree 255)");
  }
  ScheduleStep step;
  for (std::size_t k = 0; k < v.size(); ++k) {
    const std::string at = join(where, "coefficient " + std::to_string(k + 1));
    Rational exact = exact_value(read_number(v[k], at, bits), at);
    step.polynomial.coefficients.push_back(round_rational(exact, bits, Rounding::kNearest));
    step.exact_coefficients.push_back(std::move(exact));
  }
  return step;
}

const Json& read_step_list(const Json& v, const std::string& where) {
  if (!v.is_array()) fail(where, kind_of(v) + " is not an array of steps");
  if (v.empty()) fail(where, "the list has no steps");
  if (v.size() > kMaxListSteps) {
    fail(where, std::to_string(v.size()) + " steps exceed the limit of " + std::to_string(kMaxListSteps));
  }
  return v;
}

// 0 < lower < upper, both already finite.
void check_interval(const Interval& input, const std::string& where) {
  if (input.lower <= 0) fail(where, "lower bound " + to_decimal(input.lower, 17) + " is not positive");
  if (input.upper <= input.lower) {
    fail(where, "upper bound " + to_decimal(input.upper, 17) + " is not above the lower bound " +
                    to_decimal(input.lower, 17));
  }
}

// The normalisation's factor and eps as doubles, refused (naming `where`
// and the text) outside what every consumer can hold: a factor of 1e-400
// is positive in MPFR but 0 as a double, and 1e400 is no double at all.
double read_factor(const Number& n, const std::string& where) {
  if (!(n.value >= kMinNormalizationFactor && n.value <= kMaxNormalizationValue)) {
    fail(where, quote_text(n.text) + " is outside [" + to_decimal(Real(kMinNormalizationFactor), 17) + ", " +
                    to_decimal(Real(kMaxNormalizationValue), 17) + "] (a positive normal float)");
  }
  return static_cast<double>(n.value);
}

double read_eps(const Number& n, const std::string& where) {
  if (!(n.value >= 0 && n.value <= kMaxNormalizationValue)) {
    fail(where, quote_text(n.text) + " is outside [0, " + to_decimal(Real(kMaxNormalizationValue), 17) + "]");
  }
  return static_cast<double>(n.value);
}

constexpr const char* kFrobeniusNorm = "||X||_F";

// "X / ||X||_F", "X / (||X||_F + E)" or "X / (F * ||X||_F + E)" give factor
// F and eps E; a symbolic E ("+ eps") reads as 0, since the runtime guards a
// zero matrix without it.  The text of another kind (vocabulary.hpp: "AOL"
// is Turbo-Muon's AOL rescaling) is that kind; an empty text is the plain
// X / ||X||_F; any other text, or numbers out of range, is an error.
Normalization parse_normalization_text(const std::string& text, const std::string& where) {
  Normalization n;
  if (text.empty()) return n;
  for (const NormalizationKindInfo& kind : kNormalizationKinds) {
    if (kind.value != NormalizationKind::kFrobenius && text == kind.text) {
      n.kind = kind.value;
      return n;
    }
  }
  auto bad = [&] {
    fail(where, quote_text(text) +
                    " is not \"X / ||X||_F\", \"X / (||X||_F + E)\", \"X / (F * ||X||_F + E)\" or \"AOL\"");
  };
  const std::string prefix = "X / ";
  if (text.rfind(prefix, 0) != 0) bad();
  std::string rest = text.substr(prefix.size());
  if (rest == kFrobeniusNorm) return n;
  if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') bad();
  rest = rest.substr(1, rest.size() - 2);
  const std::size_t at = rest.find(kFrobeniusNorm);
  if (at == std::string::npos) bad();
  if (at > 0) {
    const std::string head = rest.substr(0, at);
    if (head.size() < 4 || head.substr(head.size() - 3) != " * ") bad();
    const std::string factor = head.substr(0, head.size() - 3);
    if (!is_decimal_number(factor)) bad();
    n.factor = read_factor({parse_real(factor, 64), factor}, where + " factor");
  }
  const std::string tail = rest.substr(at + std::string(kFrobeniusNorm).size());
  if (tail.empty()) return n;
  if (tail.rfind(" + ", 0) != 0) bad();
  const std::string eps = tail.substr(3);
  const bool symbolic = !eps.empty() && std::all_of(eps.begin(), eps.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  });
  if (!symbolic) {
    if (!is_decimal_number(eps)) bad();
    n.eps = read_eps({parse_real(eps, 64), eps}, where + " eps");
  }
  return n;
}

// The shared validation (schedule.hpp) of what the reader built.
void check_schedule(const Schedule& s) {
  try {
    validate(s);
  } catch (const std::invalid_argument& e) {
    fail("", e.what());
  }
}

// ---------------------------------------------------------------- published

Schedule parse_published(const Json& object, unsigned bits) {
  require_object(object, "published schedule");
  const Json* name = find(object, "name");
  if (name == nullptr) fail("published schedule", "no \"name\"");
  Schedule s;
  s.name = read_string(*name, "published schedule name");
  if (s.name.empty()) fail("published schedule", "the name is empty");
  const std::string where = "schedule " + quote_text(s.name);
  if (const Json* v = find(object, "source")) s.source = read_string(*v, join(where, "source"));
  if (const Json* v = find(object, "normalization")) {
    s.normalization_text = read_string(*v, join(where, "normalization"));
    s.normalization = parse_normalization_text(s.normalization_text, join(where, "normalization"));
  }
  s.after_list = read_after_list(find(object, "after_list"), where);
  s.precision_bits = bits;

  const unsigned work = 2 * bits + 64;
  PrecisionScope scope(work);
  s.input = {at_precision(Real("1e-3"), work), at_precision(Real(1), work)};
  const Json* design = find(object, "design");
  std::vector<long long> design_degrees;
  std::optional<long long> design_steps;
  std::optional<Rational> posthoc_safety;
  if (design != nullptr) {
    const std::string at = join(where, "design");
    require_object(*design, at);
    if (const Json* v = find(*design, "lower")) s.input.lower = read_number(*v, join(at, "lower"), work).value;
    if (const Json* v = find(*design, "upper")) s.input.upper = read_number(*v, join(at, "upper"), work).value;
    check_interval(s.input, at);
    if (const Json* v = find(*design, "degree")) {
      if (v->is_array() && !v->empty()) {
        for (std::size_t i = 0; i < v->size(); ++i) design_degrees.push_back(read_integer((*v)[i], join(at, "degree"), 1, 255));
      } else {
        design_degrees.push_back(read_integer(*v, join(at, "degree"), 1, 255));
      }
    }
    if (const Json* v = find(*design, "steps")) design_steps = read_integer(*v, join(at, "steps"), 1, static_cast<long long>(kMaxListSteps));
    const Json* mode = find(*design, "safety_mode");
    const Json* safety = find(*design, "safety");
    const std::string mode_text = mode != nullptr ? read_string(*mode, join(at, "safety_mode")) : "";
    if (mode != nullptr && mode_text != "posthoc" && mode_text != "inloop") {
      fail(join(at, "safety_mode"), quote_text(mode_text) + " is neither \"posthoc\" nor \"inloop\"");
    }
    if (mode_text == "posthoc") {
      if (safety == nullptr) fail(at, "a posthoc design without \"safety\"");
      const Number value = read_number(*safety, join(at, "safety"), work);
      if (value.value < 0) fail(join(at, "safety"), to_decimal(value.value, 17) + " is negative");
      posthoc_safety = exact_value(value, join(at, "safety"));
    }
  }

  const Json* steps = find(object, "steps");
  const Json* raw = find(object, "raw_steps");
  if ((steps == nullptr) == (raw == nullptr)) fail(where, "needs exactly one of \"steps\" and \"raw_steps\"");
  if (raw != nullptr && !posthoc_safety) {
    fail(where, "\"raw_steps\" need a \"design\" with \"safety_mode\": \"posthoc\" and its \"safety\"");
  }
  const char* list_key = steps != nullptr ? "steps" : "raw_steps";
  const Json& list = read_step_list(steps != nullptr ? *steps : *raw, join(where, list_key));
  if (design_steps && static_cast<std::size_t>(*design_steps) != list.size()) {
    fail(join(where, "design"), "steps " + std::to_string(*design_steps) + " does not match the " +
                                    std::to_string(list.size()) + " listed tuples");
  }
  for (std::size_t t = 0; t < list.size(); ++t) {
    const std::string at = join(where, std::string(list_key) + " tuple " + std::to_string(t + 1));
    ScheduleStep step = read_coefficients(list[t], at, bits);
    if (!design_degrees.empty()) {
      const long long expected = design_degrees[std::min(t, design_degrees.size() - 1)];
      if (step.degree() != expected) {
        fail(at, "degree " + std::to_string(step.degree()) + " (" + std::to_string(list[t].size()) +
                     " coefficients) differs from the design degree " + std::to_string(expected));
      }
    }
    // Algorithm 1 scales every tuple but the last: p(x) -> p(x / (1 + s)),
    // exactly: c_k / (1 + s)^(2k+1).
    if (raw != nullptr && t + 1 < list.size()) {
      const Rational scale = 1 + *posthoc_safety;
      Rational power = scale;
      for (std::size_t k = 0; k < step.exact_coefficients.size(); ++k, power *= scale * scale) {
        step.exact_coefficients[k] /= power;
        step.polynomial.coefficients[k] = round_rational(step.exact_coefficients[k], bits, Rounding::kNearest);
      }
    }
    s.steps.push_back(std::move(step));
  }
  check_schedule(s);
  return s;
}

std::vector<Schedule> parse_published_list(const Json& document, unsigned bits) {
  const Json* schedules = find(document, "schedules");
  if (!schedules->is_array()) fail("\"schedules\"", kind_of(*schedules) + " is not an array");
  if (schedules->empty()) fail("\"schedules\"", "the file lists no schedule");
  std::vector<Schedule> result;
  for (const Json& entry : *schedules) {
    Schedule s = parse_published(entry, bits);
    for (const Schedule& other : result) {
      if (other.name == s.name) fail("\"schedules\"", "the name " + quote_text(s.name) + " appears twice");
    }
    result.push_back(std::move(s));
  }
  return result;
}

// ---------------------------------------------------------------- own schema

DesignOptions read_design_options(const Json& input, unsigned work) {
  const std::string at = "input";
  DesignOptions d;
  d.degrees.clear();
  const Json* degree = find(input, "degree");
  if (degree == nullptr) fail(at, "no \"degree\"");
  if (degree->is_array()) {
    for (const Json& v : *degree) d.degrees.push_back(static_cast<int>(read_integer(v, "input degree", 1, 255)));
  } else {
    d.degrees.push_back(static_cast<int>(read_integer(*degree, "input degree", 1, 255)));
  }
  auto number = [&](const char* key, Real& value, std::string& text) {
    if (const Json* v = find(input, key)) {
      Number n = read_number(*v, join(at, key), work);
      value = std::move(n.value);
      text = std::move(n.text);
    }
  };
  if (find(input, "lower") == nullptr) fail(at, "no \"lower\"");
  number("lower", d.lower, d.lower_text);
  number("upper", d.upper, d.upper_text);
  number("cushion", d.cushion, d.cushion_text);
  number("safety", d.safety, d.safety_text);
  if (const Json* v = find(input, "steps")) d.steps = static_cast<int>(read_integer(*v, "input steps", 1, kMaxDesignSteps));
  if (const Json* v = find(input, "target_error")) d.target_error = read_number(*v, "input target_error", work).value;
  if (const Json* v = find(input, "safety_mode")) {
    try {
      d.safety_mode = parse_safety_mode(read_string(*v, "input safety_mode"));
    } catch (const ScheduleFormatError&) {
      throw;
    } catch (const std::invalid_argument& e) {
      fail(at, e.what());
    }
  }
  return d;
}

Schedule parse_own(const Json& doc, unsigned bits) {
  Schedule s;
  const Json* input = find(doc, "input");
  if (input != nullptr) require_object(*input, "input");
  unsigned precision = bits;
  if (input != nullptr) {
    if (const Json* v = find(*input, "precision_bits")) {
      precision = std::max(bits, static_cast<unsigned>(read_integer(*v, "input precision_bits", kMinPrecisionBits,
                                                                    kMaxPrecisionBits)));
    }
  }
  s.precision_bits = precision;
  const unsigned work = certification_bits(precision);
  PrecisionScope scope(work);

  std::string method = "published";
  if (const Json* v = find(doc, "method")) method = read_string(*v, "method");
  if (method != "published" && method != "polar-express") {
    fail("method", quote_text(method) + " is neither \"polar-express\" nor \"published\"");
  }
  s.name = "schedule";
  if (const Json* v = find(doc, "name")) s.name = read_string(*v, "name");
  if (const Json* v = find(doc, "source")) s.source = read_string(*v, "source");

  s.input = {at_precision(Real("1e-3"), work), at_precision(Real(1), work)};
  if (method == "polar-express") {
    if (input == nullptr) fail("", "a \"polar-express\" schedule without its design \"input\"");
    DesignOptions d = read_design_options(*input, work);
    d.precision_bits = precision;
    try {
      validate(d);
    } catch (const std::invalid_argument& e) {
      fail("input", e.what());
    }
    s.input = {d.lower, d.upper};
    s.design = std::move(d);
  } else if (input != nullptr) {
    if (const Json* v = find(*input, "lower")) s.input.lower = read_number(*v, "input lower", work).value;
    if (const Json* v = find(*input, "upper")) s.input.upper = read_number(*v, "input upper", work).value;
  }
  check_interval(s.input, "input");

  if (const Json* v = find(doc, "normalization")) {
    require_object(*v, "normalization");
    if (const Json* f = find(*v, "factor")) {
      s.normalization.factor = read_factor(read_number(*f, "normalization factor", 64), "normalization factor");
    }
    if (const Json* e = find(*v, "eps")) {
      s.normalization.eps = read_eps(read_number(*e, "normalization eps", 64), "normalization eps");
    }
    if (const Json* t = find(*v, "text")) s.normalization_text = read_string(*t, "normalization text");
    if (const Json* k = find(*v, "kind")) {
      try {
        s.normalization.kind = parse_normalization_kind(read_string(*k, "normalization kind"));
      } catch (const std::invalid_argument& e) {
        fail("normalization kind", e.what());
      }
    }
  }
  s.after_list = read_after_list(find(doc, "after_list"), "");

  const Json* steps = find(doc, "steps");
  if (steps == nullptr) fail("", "no \"steps\"");
  read_step_list(*steps, "steps");
  for (std::size_t t = 0; t < steps->size(); ++t) {
    const std::string at = "step " + std::to_string(t + 1);
    const Json& entry = require_object((*steps)[t], at);
    const Json* coefficients = find(entry, "coefficients");
    if (coefficients == nullptr) fail(at, "no \"coefficients\"");
    ScheduleStep step = read_coefficients(*coefficients, at, precision);
    // A design's coefficients are binary values at its precision, written
    // with all the digits that precision supports, so that the decimal
    // rounds back to them: the step is that binary value (certificates of
    // the file and of its re-reading then agree), not the decimal.
    if (method == "polar-express") step.exact_coefficients.clear();
    if (const Json* v = find(entry, "degree")) {
      const long long degree = read_integer(*v, join(at, "degree"), 1, 255);
      if (degree != step.degree()) {
        fail(at, "degree " + std::to_string(degree) + " does not match its " + std::to_string(coefficients->size()) +
                     " coefficients (degree " + std::to_string(step.degree()) + ")");
      }
    }
    if (const Json* v = find(entry, "osculating")) {
      if (!v->is_boolean()) fail(join(at, "osculating"), kind_of(*v) + " is not true or false");
      step.osculating = v->get<bool>();
    }
    s.steps.push_back(std::move(step));
  }
  check_schedule(s);
  return s;
}

}  // namespace

namespace detail {

std::vector<Schedule> parse_published_file(const std::string& json_text, unsigned precision_bits) {
  const Json document = parse_document(json_text);
  if (!document.is_object() || find(document, "schedules") == nullptr) {
    fail("", "not a published-schedules file: no top-level \"schedules\" list");
  }
  return parse_published_list(document, precision_bits);
}

}  // namespace detail

Schedule parse_schedule(const std::string& json_text, unsigned precision_bits) {
  if (precision_bits < kMinPrecisionBits || precision_bits > kMaxPrecisionBits) {
    throw std::invalid_argument("precision " + std::to_string(precision_bits) + " bits is outside [" +
                                std::to_string(kMinPrecisionBits) + ", " + std::to_string(kMaxPrecisionBits) + "]");
  }
  const Json document = parse_document(json_text);
  if (!document.is_object()) fail("", "not a schedule: the document is " + kind_of(document) + ", not an object");
  if (const Json* schema = find(document, "schema")) {
    const std::string name = read_string(*schema, "schema");
    if (name == kPlanSchema) {
      // A plan (polar-express plan --format json) holds its schedule whole.
      const Json* inner = find(document, "schedule");
      if (inner == nullptr) fail("plan", "no \"schedule\"");
      require_object(*inner, "plan schedule");
      const Json* inner_schema = find(*inner, "schema");
      if (inner_schema == nullptr || read_string(*inner_schema, "plan schedule schema") != kScheduleSchema) {
        fail("plan schedule", "its \"schema\" is not " + quote_text(kScheduleSchema));
      }
      return parse_own(*inner, precision_bits);
    }
    if (name != kScheduleSchema) {
      fail("schema", quote_text(name) + " is not " + quote_text(kScheduleSchema) + " or " + quote_text(kPlanSchema));
    }
    return parse_own(document, precision_bits);
  }
  if (find(document, "schedules") != nullptr) {
    std::vector<Schedule> all = parse_published_list(document, precision_bits);
    if (all.size() != 1) {
      std::string names;
      for (const Schedule& s : all) names += (names.empty() ? "" : ", ") + s.name;
      fail("", "the file holds " + std::to_string(all.size()) + " schedules (" + names +
                   "); give a file with one of them, or pick one from the built-in catalogue by name");
    }
    return std::move(all.front());
  }
  if (find(document, "steps") != nullptr || find(document, "raw_steps") != nullptr) {
    return parse_published(document, precision_bits);
  }
  fail("", "not a schedule: expected \"schema\": \"" + std::string(kScheduleSchema) +
               "\", a published list with \"steps\" or \"raw_steps\", or a file of \"schedules\"");
}

Schedule read_schedule_file(const std::string& path, unsigned precision_bits) {
  namespace fs = std::filesystem;
  const std::string where = "schedule file " + quote_text(path);
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(where, "no such file");
  if (fs::is_directory(path, ec)) fail(where, "is a directory");
  const std::uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > kMaxFileBytes) fail(where, std::to_string(size) + " bytes is too large for a schedule (limit 16 MiB)");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) fail(where, "cannot be read");
  try {
    return parse_schedule(text.str(), precision_bits);
  } catch (const ScheduleFormatError& e) {
    fail(where, e.what());
  }
}

}  // namespace polar_express
