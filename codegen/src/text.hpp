#pragma once
// Text helpers the emitters share (internal to the codegen library).
#include "polar_express/codegen/codegen.hpp"

#include <map>
#include <string>

namespace polar_express::codegen::detail {

// The templates of codegen/templates/, embedded at configure time.
extern const char* const kCppHeaderTemplate;
extern const char* const kCudaSourceTemplate;
extern const char* const kCudaFactoryTemplate;
extern const char* const kTorchTemplate;
extern const char* const kCppRegistryTemplate;
extern const char* const kCudaRegistryTemplate;

// `text` with every @KEY@ (KEY in [A-Z0-9_], starting with a letter)
// replaced by values.at(KEY).  Throws std::logic_error for a key without a
// value or a value no key uses, so a template and its emitter cannot drift
// apart silently.
std::string substitute(const std::string& text, const std::map<std::string, std::string>& values);

// A double-quoted C/C++ string literal of `text`: quotes, backslashes and
// '?' escaped (no trigraph can form), bytes outside printable ASCII as
// three-digit octal escapes (which, unlike \x, cannot swallow a following
// character).
std::string c_string_literal(const std::string& text);

// `text` fit for the rest of a // or # comment line: control characters
// become spaces, and a trailing backslash (which would splice the next line
// into a C++ comment) is followed by a '.'.
std::string comment_text(const std::string& text);

// Correctly rounded decimal with all the digits `bits` bits determine (as
// the JSON writer prints them), and with 40 for comments.
std::string full_decimal(const Real& value, unsigned bits);
std::string comment_decimal(const Real& value);
// A rigorous bound's upper end with as many digits as full_decimal, rounded
// up, and with 6 for comments.
std::string full_upper_bound(const Interval& enclosure, unsigned bits);
std::string comment_upper_bound(const Interval& enclosure);

// The most coefficients any step has.
int max_coefficients(const Schedule& schedule);

// "5" or "3,5,5".
std::string degree_list(const std::vector<int>& degrees);

}  // namespace polar_express::codegen::detail
