// polar-express: design, verify, emit and run polynomial iterations for the
// matrix polar factor.  Exit codes: 0 success, 1 a check failed, 2 bad input.
#include "entry.hpp"

int main(int argc, char** argv) { return polar_express::cli::run_command_line(argc, argv); }
