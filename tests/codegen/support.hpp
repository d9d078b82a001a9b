#pragma once
// Shared by the codegen tests: temporary directories, files and commands.
#include "common/files.hpp"
#include "common/prerequisite.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <string>

namespace polar_express::codegen_test {

using test::read_text;
using test::TempDir;
using test::write_text;

// Exit status of a shell command, its output going to `log`.
inline int run_command(const std::string& command, const std::string& log) {
  const int status = std::system((command + " >" + log + " 2>&1 </dev/null").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Whether `program` can be run (found on PATH or as a path).
inline bool have_program(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace polar_express::codegen_test
