#pragma once
// Runs the polar-express binary in a shell and captures what it printed.
#include "common/files.hpp"
#include "common/prerequisite.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <string>

namespace polar_express::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// `arguments` is shell text appended to the binary's path.
inline CliResult run_cli(const std::string& arguments) {
  TempDir capture;
  const std::string command = std::string(POLAR_EXPRESS_CLI) + " " + arguments + " >" + capture.file("out") +
                              " 2>" + capture.file("err") + " </dev/null";
  const int status = std::system(command.c_str());
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_text(capture.file("out"));
  result.err = read_text(capture.file("err"));
  return result;
}

// Lines in `text` (a trailing newline does not start another).
inline int line_count(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  if (!text.empty() && text.back() != '\n') ++lines;
  return lines;
}

}  // namespace polar_express::test
