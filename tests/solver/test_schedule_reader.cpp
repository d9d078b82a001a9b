// The schedule reader: this tool's JSON round-trips, the published-list
// format (exact decimal text, posthoc safety scaling), and every kind of bad
// input rejected with one line naming the offending value.
#include "common/files.hpp"
#include "polar_express/solver/schedule_io.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace polar_express;

namespace {

std::string data_file() { return std::string(POLAR_EXPRESS_TEST_DATA) + "/published_schedules.json"; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The text of one published object, cut verbatim out of the data file so
// that its numbers keep their printed digits.
std::string published_object_text(const std::string& name) {
  const std::string text = slurp(data_file());
  const std::size_t at = text.find("\"name\": \"" + name + "\"");
  REQUIRE(at != std::string::npos);
  const std::size_t open = text.rfind('{', at);
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    depth += text[i] == '{' ? 1 : (text[i] == '}' ? -1 : 0);
    if (depth == 0) return text.substr(open, i - open + 1);
  }
  FAIL("unbalanced object for " << name);
  return {};
}

std::string parse_error_of(const std::string& json) {
  try {
    parse_schedule(json, 256);
  } catch (const ScheduleFormatError& e) {
    return e.what();
  }
  FAIL("no error for " << json);
  return {};
}

const char* kJordan = R"({"name": "j", "steps": [[3.4445, -4.7750, 2.0315]]})";

}  // namespace

TEST_CASE("published coefficients are the printed decimals, not the nearest doubles", "[reader]") {
  const Schedule s = parse_schedule(kJordan, 256);
  REQUIRE(s.steps.size() == 1);
  REQUIRE(s.steps[0].degree() == 5);
  const Real exact = parse_real("3.4445", 256);
  CHECK(s.steps[0].polynomial.coefficients[0] == exact);
  // The double 3.4445 differs from the decimal by ~1e-16; 256 bits see it.
  CHECK(s.steps[0].polynomial.coefficients[0] != Real(3.4445));
  CHECK(precision_bits(s.steps[0].polynomial.coefficients[0]) == 256);
  CHECK(s.after_list == AfterList::kRepeatLast);
  // The interval is kept at the working precision of certify (2 * 256 + 64 bits).
  CHECK(s.input.lower == parse_real("1e-3", 576));
  CHECK(s.input.upper == 1);
}

TEST_CASE("raw_steps with a posthoc design are safety-scaled but for the last tuple", "[reader]") {
  const Schedule s = parse_schedule(published_object_text("polar-express-paper-d5"), 256);
  const nlohmann::json raw = nlohmann::json::parse(published_object_text("polar-express-paper-d5"))["raw_steps"];
  REQUIRE(s.steps.size() == 8);
  CHECK(s.name == "polar-express-paper-d5");
  CHECK(s.normalization.factor == 1.01);
  CHECK(s.normalization.eps == 1e-7);
  PrecisionScope scope(512);
  for (std::size_t t = 0; t < 8; ++t) {
    for (std::size_t k = 0; k < 3; ++k) {
      // Independently: the raw value over 1.01^(2k+1), except on the last step.
      const Real divisor = t + 1 < 8 ? pow(parse_real("1.01", 512), 2 * static_cast<int>(k) + 1) : Real(1);
      const Real expected = Real(raw[t][k].get<double>()) / divisor;
      const Real got = s.steps[t].polynomial.coefficients[k];
      // The data file's text is the shortest repr of the double (1e-16).
      CHECK(abs(got - expected) <= abs(expected) * Real(1e-15));
    }
  }
  CHECK(s.steps[7].polynomial.coefficients[0] == parse_real("1.875", 256));
}

TEST_CASE("cubic tuples [a, b] are degree 3, a single coefficient is degree 1", "[reader]") {
  const Schedule s = parse_schedule(R"({"name": "c", "steps": [[1.5, -0.5], [1]], "after_list": "cycle"})", 256);
  CHECK(s.steps[0].degree() == 3);
  CHECK(s.steps[1].degree() == 1);
  CHECK(s.after_list == AfterList::kCycle);
}

TEST_CASE("the whole published file is accepted when it holds exactly one list", "[reader]") {
  const std::string one = R"({"about": "x", "schedules": [)" + published_object_text("cans-5step") + "]}";
  const Schedule s = parse_schedule(one, 256);
  CHECK(s.name == "cans-5step");
  CHECK(s.steps.size() == 5);
  CHECK(s.normalization_text == "X / ||X||_F");
  CHECK(s.normalization.factor == 1.0);
  CHECK(s.normalization.eps == 0.0);
  const std::string message = parse_error_of(slurp(data_file()));
  CHECK_THAT(message, Catch::Contains("holds 10 schedules") && Catch::Contains("muon-jordan-ns5"));
}

TEST_CASE("normalization texts give factor and eps where they have the Frobenius form", "[reader]") {
  const Schedule nanochat = parse_schedule(published_object_text("polar-express-nanochat-d5"), 256);
  CHECK(nanochat.normalization.factor == 1.02);
  CHECK(nanochat.normalization.eps == 1e-6);
  const Schedule jordan = parse_schedule(published_object_text("muon-jordan-ns5"), 256);
  CHECK(jordan.normalization.factor == 1.0);
  CHECK(jordan.normalization.eps == 1e-7);
  const Schedule aol = parse_schedule(published_object_text("turbo-muon-aol-4step"), 256);
  CHECK(aol.normalization_text == "AOL");
  CHECK(aol.normalization.factor == 1.0);
  CHECK(aol.normalization.kind == NormalizationKind::kAol);
  CHECK(nanochat.normalization.kind == NormalizationKind::kFrobenius);
  CHECK(jordan.normalization.kind == NormalizationKind::kFrobenius);
  // A symbolic eps reads as 0; the convention is still the Frobenius norm.
  const Schedule deepseek = parse_schedule(published_object_text("deepseek-v4-hybrid"), 256);
  CHECK(deepseek.normalization.kind == NormalizationKind::kFrobenius);
  CHECK(deepseek.normalization.factor == 1.0);
  CHECK(deepseek.normalization.eps == 0.0);
  // A Frobenius text of another shape, or numbers no consumer can hold, are errors.
  auto with = [](const std::string& text) {
    return R"({"name": "n", "normalization": ")" + text + R"(", "steps": [[1.5, -0.5]]})";
  };
  CHECK_THAT(parse_error_of(with("X / (2 ||X||_F)")), Catch::Contains("is not \"X / ||X||_F\""));
  CHECK_THAT(parse_error_of(with("X / (1e-400 * ||X||_F + 1e-7)")),
             Catch::Contains("normalization factor: \"1e-400\" is outside [1.1754943508222875e-38"));
  CHECK_THAT(parse_error_of(with("X / (||X||_F + 1e39)")), Catch::Contains("normalization eps: \"1e39\" is outside [0, "));
  CHECK_THAT(parse_error_of(R"({"schema": "polar-express/schedule/v1", "normalization": {"factor": "1e400"},
                                "steps": [{"coefficients": [1.5, -0.5]}]})"),
             Catch::Contains("normalization factor: \"1e400\" is outside ["));
}

// The schedule-reader fuzzer's find: a coefficient of 0.54e-66601 parsed, and
// certifying its exact rational (a 221-kbit denominator) took a minute.
TEST_CASE("coefficients with decimal exponents past 10000 are refused", "[reader]") {
  auto with = [](const std::string& coefficient) {
    return R"({"name": "e", "steps": [[3.0, -3.2, )" + coefficient + "]]}";
  };
  CHECK_THAT(parse_error_of(with("0.5448431082921e-066601")),
             Catch::Contains("coefficient 3: \"0.5448431082921e-066601\" has a decimal exponent beyond +-10000"));
  CHECK_THAT(parse_error_of(with("\"1e10001\"")), Catch::Contains("decimal exponent beyond +-10000"));
  const Schedule tiny = parse_schedule(with("1.2e-9999"), 256);
  CHECK(tiny.steps[0].exact()[2] * Rational(boost::multiprecision::pow(Integer(10), 9999)) == Rational(12) / 10);
}

TEST_CASE("this tool's JSON round-trips byte for byte after certification", "[reader]") {
  DesignOptions o;
  o.degrees = {3, 5, 7};
  o.lower = parse_real("1e-3", 576);
  o.lower_text = "1e-3";
  o.steps = 4;
  o.cushion = parse_real("0.02", 576);
  o.cushion_text = "0.02";
  o.safety = parse_real("0.01", 576);
  o.safety_text = "0.01";
  o.safety_mode = SafetyMode::kPostHoc;
  const Schedule designed = design_schedule(o);
  const std::string text = to_json(designed);
  Schedule read = parse_schedule(text, 256);
  REQUIRE(read.steps.size() == 4);
  for (std::size_t t = 0; t < 4; ++t) {
    CHECK(read.steps[t].polynomial.coefficients == designed.steps[t].polynomial.coefficients);
  }
  REQUIRE(read.design.has_value());
  CHECK(read.design->degrees == std::vector<int>{3, 5, 7});
  CHECK(read.design->safety_mode == SafetyMode::kPostHoc);
  certify(read.steps, read.input, read.precision_bits);
  read.final_error = read.steps.back().error_after;
  read.final_error_enclosure = read.steps.back().error_enclosure;
  CHECK(to_json(read) == text);
}

TEST_CASE("a file's higher precision is kept", "[reader]") {
  DesignOptions o;
  o.lower = parse_real("1e-2", 1100);
  o.steps = 2;
  o.precision_bits = 512;
  const Schedule designed = design_schedule(o);
  const Schedule read = parse_schedule(to_json(designed), 256);
  CHECK(read.precision_bits == 512);
  CHECK(read.steps[1].polynomial.coefficients == designed.steps[1].polynomial.coefficients);
}

TEST_CASE("bad schedules are rejected with the offending value named", "[reader][errors]") {
  struct Case {
    const char* json;
    const char* expected;
  };
  const Case cases[] = {
      {"", "not valid JSON"},
      {"{\"name\": \"x\", \"steps\": [[1, 2]]", "not valid JSON"},
      {"nul", "not valid JSON"},
      {"[1, 2, 3]", "an array, not an object"},
      {"{\"name\": \"x\"}", "not a schedule"},
      {"{\"name\": \"x\", \"steps\": {}}", "an object is not an array of steps"},
      {"{\"name\": \"x\", \"steps\": []}", "no steps"},
      {"{\"name\": \"x\", \"steps\": [[]]}", "tuple 1: the coefficient list is empty"},
      {"{\"name\": \"x\", \"steps\": [3.5]}", "the number 3.5, not an array"},
      {"{\"name\": \"x\", \"steps\": [[1, \"abc\"]]}", "coefficient 2: \"abc\" is not a number"},
      {"{\"name\": \"x\", \"steps\": [[1, true]]}", "coefficient 2: true is not a number"},
      {"{\"name\": \"x\", \"steps\": [[null]]}", "coefficient 1: null is not a number"},
      {"{\"name\": \"x\", \"steps\": [[1, [2]]]}", "coefficient 2: an array is not a number"},
      {"{\"name\": \"x\", \"steps\": [[1, \"inf\"]]}", "\"inf\" is not finite"},
      {"{\"name\": \"x\", \"steps\": [[1, \"nan\"]]}", "\"nan\" is not finite"},
      {"{\"name\": \"x\", \"steps\": [[1, 1e999999999999]]}", "number overflow parsing '1e999999999999'"},
      {"{\"name\": \"x\", \"steps\": [[1, \" 2\"]]}", "\" 2\" is not a number"},
      {"{\"name\": \"x\", \"steps\": [[1]], \"after_list\": \"loop\"}", "after_list 'loop' is not repeat_last or cycle"},
      {"{\"name\": \"x\", \"steps\": [[1]], \"steps\": [[2]]}", "duplicate key \"steps\""},
      {"{\"name\": 5, \"steps\": [[1]]}", "the integer 5 is not a string"},
      {"{\"name\": \"x\", \"steps\": [[1]], \"raw_steps\": [[1]]}", "exactly one of"},
      {"{\"name\": \"x\", \"raw_steps\": [[1]]}", "need a \"design\" with \"safety_mode\": \"posthoc\""},
      {"{\"name\": \"x\", \"steps\": [[1]], \"design\": {\"lower\": 1, \"upper\": 0.5}}",
       "upper bound 0.5 is not above the lower bound 1"},
      {"{\"name\": \"x\", \"steps\": [[1]], \"design\": {\"lower\": -1}}", "lower bound -1 is not positive"},
      {"{\"name\": \"x\", \"steps\": [[1, 2]], \"design\": {\"degree\": 5}}", "degree 3 (2 coefficients) differs"},
      {"{\"name\": \"x\", \"steps\": [[1]], \"design\": {\"steps\": 2}}", "steps 2 does not match the 1 listed"},
      {"{\"schema\": \"polar-express/schedule/v2\", \"steps\": []}", "\"polar-express/schedule/v2\" is not"},
      {"{\"schema\": \"polar-express/schedule/v1\"}", "no \"steps\""},
      {"{\"schema\": \"polar-express/schedule/v1\", \"steps\": [{\"degree\": 5, \"coefficients\": [\"1\", \"2\"]}]}",
       "step 1: degree 5 does not match its 2 coefficients (degree 3)"},
      {"{\"schema\": \"polar-express/schedule/v1\", \"steps\": [{\"degree\": 3}]}", "step 1: no \"coefficients\""},
      {"{\"schema\": \"polar-express/schedule/v1\", \"input\": {\"lower\": \"1\", \"upper\": \"1\"}, "
       "\"steps\": [{\"coefficients\": [\"1\"]}]}",
       "upper bound 1 is not above the lower bound 1"},
      {"{\"schema\": \"polar-express/schedule/v1\", \"method\": \"polar-express\", \"input\": {\"degree\": [4], "
       "\"lower\": \"1e-3\", \"steps\": 1}, \"steps\": [{\"coefficients\": [\"1\"]}]}",
       "degree 4 is not an odd integer"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    const std::string message = parse_error_of(c.json);
    CHECK_THAT(message, Catch::Contains(c.expected));
    CHECK(message.find('\n') == std::string::npos);
  }
  std::string many = "{\"name\": \"x\", \"steps\": [[";
  for (int k = 0; k < 129; ++k) many += k ? ",1" : "1";
  CHECK_THAT(parse_error_of(many + "]]}"), Catch::Contains("129 coefficients (degree 257)"));
  CHECK_THROWS_AS(parse_schedule(kJordan, 8), std::invalid_argument);
}

TEST_CASE("read_schedule_file names the file in every error", "[reader][errors]") {
  const test::TempDir temp;  // unique per run: suites may run concurrently
  const std::filesystem::path& dir = temp.path();
  const std::string missing = (dir / "missing.json").string();
  CHECK_THROWS_WITH(read_schedule_file(missing, 256), Catch::Contains("missing.json") && Catch::Contains("no such file"));
  CHECK_THROWS_WITH(read_schedule_file(dir.string(), 256), Catch::Contains("is a directory"));
  const std::string bad = (dir / "bad.json").string();
  std::ofstream(bad) << "not json";
  CHECK_THROWS_WITH(read_schedule_file(bad, 256), Catch::Contains("bad.json") && Catch::Contains("not valid JSON"));
  const std::string good = (dir / "good.json").string();
  std::ofstream(good) << kJordan;
  CHECK(read_schedule_file(good, 256).steps.size() == 1);
}
