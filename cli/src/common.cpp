#include "common.hpp"

#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/schedule_io.hpp"

#include <algorithm>
#include <charconv>

namespace polar_express::cli {

std::vector<int> parse_degree_list(const std::string& text) {
  std::vector<int> degrees;
  // Every item between commas counts, so "5," and ",5" name an empty degree.
  for (std::size_t start = 0;;) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty() || !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw UsageError("--degree '" + text + "': " +
                       (item.empty() ? std::string("an empty item") : "'" + item + "' is not an integer") +
                       " (expected odd degrees in decimal digits, separated by commas)");
    }
    const std::optional<long long> value = whole_number(item);
    if (!value || *value < 3 || *value % 2 == 0 || *value > 255) {
      throw UsageError("degree " + item + " is not an odd integer in [3, 255]");
    }
    degrees.push_back(static_cast<int>(*value));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return degrees;
}

std::optional<long long> whole_number(const std::string& text) {
  const bool negative = !text.empty() && text.front() == '-';
  const char* first = text.data() + (negative ? 1 : 0);
  const char* last = text.data() + text.size();
  if (first == last || !std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  long long value = 0;
  if (std::from_chars(text.data(), last, value).ec != std::errc()) return std::nullopt;
  return value;
}

CLI::Validator integer_text(std::int64_t min, std::uint64_t max) {
  auto check = [min, max](std::string& text) -> std::string {
    const bool negative = !text.empty() && text.front() == '-';
    const char* first = text.data() + (negative ? 1 : 0);
    const char* last = text.data() + text.size();
    if (first == last || !std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) {
      return "'" + text + "' is not an integer (decimal digits, optionally after a '-')";
    }
    const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
    if (negative && min >= 0) return "'" + text + "' is negative; expected an integer in " + range;
    // Canonical digits: CLI11 would read a leading 0 as octal.
    if (negative) {
      std::int64_t value = 0;
      if (std::from_chars(text.data(), last, value).ec != std::errc() || value < min) {
        return "'" + text + "' is outside " + range;
      }
      text = std::to_string(value);
    } else {
      std::uint64_t value = 0;
      if (std::from_chars(first, last, value).ec != std::errc() || value > max) {
        return "'" + text + "' is outside " + range;
      }
      text = std::to_string(value);
    }
    return {};
  };
  return CLI::Validator(check, "", "integer");
}

CLI::Validator path_text() {
  return CLI::Validator(
      [](std::string& text) -> std::string { return text.empty() ? "the path is empty" : std::string(); }, "", "path");
}

Real parse_number(const std::string& flag, const std::string& text, unsigned bits) {
  try {
    return parse_real(text, bits);
  } catch (const std::invalid_argument&) {
    throw UsageError(flag + " '" + text + "' is not a number");
  }
}

ElementType parse_dtype(const std::string& text) {
  try {
    return parse_element_type(text);
  } catch (const std::invalid_argument& e) {
    throw UsageError("--" + std::string(e.what()));
  }
}

void check_precision(unsigned bits) {
  if (bits < kMinPrecisionBits || bits > kMaxPrecisionBits) {
    throw UsageError("--precision " + std::to_string(bits) + " is outside [" + std::to_string(kMinPrecisionBits) +
                     ", " + std::to_string(kMaxPrecisionBits) + "] bits (below 64 bits the certificate means little)");
  }
}

void add_schedule_choice(CLI::App& app, ScheduleChoice& choice) {
  app.add_option("schedule", choice.file, "Schedule file: this tool's JSON or a published-list object");
  app.add_option("--builtin", choice.builtin, "A published schedule compiled into the tool, e.g. polar-express-paper-d5");
}

void check_schedule_choice(const ScheduleChoice& choice) {
  if (choice.file.empty() == choice.builtin.empty()) {
    throw UsageError("give exactly one of SCHEDULE.json and --builtin NAME");
  }
}

Schedule load_schedule(const ScheduleChoice& choice, unsigned bits) {
  check_schedule_choice(choice);
  return choice.builtin.empty() ? read_schedule_file(choice.file, bits) : builtin_schedule(choice.builtin, bits);
}

}  // namespace polar_express::cli
