#pragma once
// The whole command line of polar-express, for the executable's main: kept
// apart from every other header, so that main.cpp compiles in no time and
// the headers behind the commands (CLI11, Boost.Multiprecision) are parsed
// once, with the commands (cli/CMakeLists.txt's unity build).

namespace polar_express::cli {

// Parses argv, runs the command, reports errors on stderr.  Exit codes: 0
// success, 1 a check failed, 2 bad input.
int run_command_line(int argc, char** argv);

}  // namespace polar_express::cli
