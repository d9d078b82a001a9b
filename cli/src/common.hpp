#pragma once
// What every subcommand shares: its registration shape, the error kinds that
// map to exit codes, and output that is written whole or not at all.
#include "polar_express/solver/schedule.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace polar_express::cli {

// Exit codes of the CLI contract.
inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitBadInput = 2;

// Bad usage or bad input: one line on stderr, exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A subcommand: its CLI11 parser and the action run when it was chosen.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_design_command(CLI::App& root);
Command add_verify_command(CLI::App& root);
Command add_emit_command(CLI::App& root);
Command add_run_command(CLI::App& root);
Command add_plan_command(CLI::App& root);
Command add_analyze_command(CLI::App& root);

// The top-level parser with every command registered (main.cpp; the
// argument fuzzer of fuzz/ parses through the very same options and checks).
struct Application {
  CLI::App app;
  std::vector<Command> commands;
  Application();
  // The registered command named `name`, or null.
  const Command* find(const std::string& name) const;
  // "design, verify, ..." for messages.
  std::string command_names() const;
};

// Writes `content` to `path`, whole or not at all (output.cpp): "" or "-"
// is standard output; a symbolic link is written through to its target; a
// regular file is replaced atomically, keeping its mode; a device, FIFO,
// socket or descriptor link (/dev/stdout) is written directly; a directory
// is refused.  Throws UsageError
// naming the path and the system's reason.
void write_output(const std::string& path, const std::string& content);
bool is_standard_output(const std::string& path);

struct OutputFile {
  std::string name;     // relative to the directory
  std::string content;
};
// Writes every file into `directory` (created with its parents when missing)
// or none of them: on any failure, or on SIGINT/SIGTERM/SIGHUP while it
// runs, the originals are restored and new files and directories removed.
// The files must be regular files (or missing) after following links.
void write_files(const std::string& directory, const std::vector<OutputFile>& files);

// Parses "A,B,C" odd degrees; throws UsageError naming the bad item.
std::vector<int> parse_degree_list(const std::string& text);

// Decimal digits with an optional leading '-' (no blanks, '+', base prefix
// or exponent) that fit a long long, else nullopt.
std::optional<long long> whole_number(const std::string& text);

// CLI11 check for an integer option of a type with range [min, max]:
// strict decimal text as whole_number() reads it, in range, rewritten
// without leading zeros (CLI11 alone reads "010" as octal, "+5" and " 5" as
// 5, and "-1" into an unsigned as 2^64 - 1).
CLI::Validator integer_text(std::int64_t min, std::uint64_t max);
template <class T>
CLI::Validator integer_text() {
  return integer_text(static_cast<std::int64_t>(std::numeric_limits<T>::min()),
                      static_cast<std::uint64_t>(std::numeric_limits<T>::max()));
}

// CLI11 check for a path option given explicitly: it may not be empty.
CLI::Validator path_text();

// A decimal option read at `bits` bits; UsageError "FLAG 'TEXT' is not a number".
Real parse_number(const std::string& flag, const std::string& text, unsigned bits);

// --dtype: an element type by either spelling (vocabulary.hpp); UsageError
// "--dtype 'TEXT' is not f64, f32, f16 or bf16" otherwise.
ElementType parse_dtype(const std::string& text);

// UsageError unless `bits` is a precision the solver accepts.
void check_precision(unsigned bits);

// The schedule a command works on: SCHEDULE.json or --builtin NAME.
struct ScheduleChoice {
  std::string file;
  std::string builtin;
};
// The positional file and --builtin options, bound to `choice`.
void add_schedule_choice(CLI::App& app, ScheduleChoice& choice);
// UsageError unless exactly one of the two was given.
void check_schedule_choice(const ScheduleChoice& choice);
// The chosen schedule, read at `bits` bits.
Schedule load_schedule(const ScheduleChoice& choice, unsigned bits);

}  // namespace polar_express::cli
