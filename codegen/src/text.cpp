#include "text.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <stdexcept>

namespace polar_express::codegen::detail {
namespace {

bool is_key_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

}  // namespace

std::string substitute(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  std::set<std::string> used;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t at = text.find('@', pos);
    if (at == std::string::npos) break;
    std::size_t end = at + 1;
    while (end < text.size() && is_key_char(text[end])) ++end;
    const bool is_key = end < text.size() && text[end] == '@' && end > at + 1 && text[at + 1] >= 'A' &&
                        text[at + 1] <= 'Z';
    if (!is_key) {
      out.append(text, pos, at + 1 - pos);
      pos = at + 1;
      continue;
    }
    const std::string key = text.substr(at + 1, end - at - 1);
    const auto found = values.find(key);
    if (found == values.end()) throw std::logic_error("template key @" + key + "@ has no value");
    used.insert(key);
    out.append(text, pos, at - pos);
    out += found->second;
    pos = end + 1;
  }
  out.append(text, std::min(pos, text.size()), std::string::npos);
  for (const auto& [key, value] : values) {
    if (!used.count(key)) throw std::logic_error("template has no key @" + key + "@");
  }
  return out;
}

std::string c_string_literal(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\' || c == '?') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      char escape[5];
      std::snprintf(escape, sizeof escape, "\\%03o", static_cast<unsigned>(byte));
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string comment_text(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (!out.empty() && out.back() == '\\') out += '.';
  return out;
}

std::string full_decimal(const Real& value, unsigned bits) {
  return to_decimal(value, std::max(40, decimal_digits_for_bits(bits)));
}

std::string comment_decimal(const Real& value) { return to_decimal(value, 40); }

std::string full_upper_bound(const Interval& enclosure, unsigned bits) {
  return to_decimal(enclosure.upper, std::max(40, decimal_digits_for_bits(bits)), Rounding::kUp);
}

std::string comment_upper_bound(const Interval& enclosure) { return to_decimal(enclosure.upper, 6, Rounding::kUp); }

int max_coefficients(const Schedule& schedule) {
  std::size_t most = 0;
  for (const ScheduleStep& step : schedule.steps) most = std::max(most, step.polynomial.coefficients.size());
  return static_cast<int>(most);
}

std::string degree_list(const std::vector<int>& degrees) {
  std::string out;
  for (std::size_t i = 0; i < degrees.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(degrees[i]);
  }
  return out;
}

}  // namespace polar_express::codegen::detail
