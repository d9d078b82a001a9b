#pragma once
// What every subcommand shares: its registration shape, the error kinds that
// map to exit codes, and output that is written whole or not at all.
#include "polar_express/solver/schedule.hpp"

#include <CLI/CLI.hpp>

#include <functional>
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

// Writes `content` to stdout when `path` is empty, else to `path` through a
// temporary file renamed into place, so a failure leaves nothing behind.
void write_output(const std::string& path, const std::string& content);

struct OutputFile {
  std::string name;     // relative to the directory
  std::string content;
};
// Writes every file into `directory` (which must exist) or none of them.
void write_files(const std::string& directory, const std::vector<OutputFile>& files);

// Parses "A,B,C" odd degrees; throws UsageError naming the bad item.
std::vector<int> parse_degree_list(const std::string& text);

// A decimal option read at `bits` bits; UsageError "FLAG 'TEXT' is not a number".
Real parse_number(const std::string& flag, const std::string& text, unsigned bits);

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
