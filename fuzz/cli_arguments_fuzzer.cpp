// libFuzzer target for the CLI's argument handling.  The bytes, split at
// NUL, are the arguments after "polar-express".
//  * The whole parser (CLI11 with every command's options and checks, built
//    by the same Application as the binary) must end in success or a
//    CLI::ParseError: never another exception, a crash or a sanitizer report.
//    No command runs.
//  * Every argument also goes through the value readers the commands use,
//    each checked against its documented grammar written here a second way
//    (std::regex): parse_real() accepts exactly the decimal numbers (and
//    agrees with strtod where that gives a normal double), whole_number()
//    and integer_text() accept exactly [-]digits and keep the value,
//    parse_degree_list() accepts exactly digits separated by single commas,
//    each an odd degree in [3, 255].
#include "common.hpp"

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

namespace {

using namespace polar_express;

// libstdc++'s regex recurses per character: long arguments are checked by
// the parsers alone.
constexpr std::size_t kRegexLimit = 256;

void require(bool condition) {
  if (!condition) std::abort();
}

void check_number(const std::string& text) {
  static const std::regex decimal(R"(^[+-]?(([0-9]+\.?[0-9]*)|(\.[0-9]+))([eE][+-]?[0-9]+)?$)");
  static const std::regex word(R"(^[+-]?(inf|infinity|nan)$)", std::regex::icase);
  bool accepted = true;
  Real value;
  try {
    value = parse_real(text, kMinPrecisionBits);
  } catch (const std::invalid_argument&) {
    accepted = false;
  }
  require(accepted == is_decimal_number(text));
  if (text.size() <= kRegexLimit && text.find('\0') == std::string::npos) {
    require(accepted == (std::regex_match(text, decimal) || std::regex_match(text, word)));
  }
  if (!accepted || !boost::multiprecision::isfinite(value)) return;
  errno = 0;
  const double reference = std::strtod(text.c_str(), nullptr);
  if (errno == 0 && std::isnormal(reference)) {
    // 64 bits rounded to 53: within one unit in the last place.
    const double converted = static_cast<double>(value);
    require(std::abs(converted - reference) <= std::abs(reference) * 2 * DBL_EPSILON);
  }
}

void check_integer(const std::string& text) {
  static const std::regex integer(R"(^-?[0-9]+$)");
  const std::optional<long long> value = cli::whole_number(text);
  std::string rewritten = text;
  const bool validated = cli::integer_text<int>()(rewritten).empty();
  if (text.size() <= kRegexLimit && text.find('\0') == std::string::npos) {
    const bool shaped = std::regex_match(text, integer);
    if (value) require(shaped);
    if (validated) require(shaped);
  }
  if (validated) {
    require(value && *value >= INT32_MIN && *value <= INT32_MAX);
    require(rewritten == std::to_string(*value));
  }
}

void check_degrees(const std::string& text) {
  static const std::regex list(R"(^[0-9]+(,[0-9]+)*$)");
  std::vector<int> degrees;
  try {
    degrees = cli::parse_degree_list(text);
  } catch (const cli::UsageError&) {
    return;
  }
  require(!degrees.empty());
  for (int d : degrees) require(d >= 3 && d <= 255 && d % 2 == 1);
  if (text.size() <= kRegexLimit && text.find('\0') == std::string::npos) require(std::regex_match(text, list));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> arguments{"polar-express"};
  std::string current;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      arguments.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  arguments.push_back(std::move(current));
  if (arguments.size() > 64) return 0;

  for (std::size_t i = 1; i < arguments.size(); ++i) {
    check_number(arguments[i]);
    check_integer(arguments[i]);
    check_degrees(arguments[i]);
  }

  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  cli::Application cli;
  try {
    cli.app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError&) {
  }
  return 0;
}
