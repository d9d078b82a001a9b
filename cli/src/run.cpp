#include "common.hpp"

namespace polar_express::cli {

Command add_run_command(CLI::App& root) {
  CLI::App* app = root.add_subcommand("run", "(being written)");
  return {app, [] () -> int { throw UsageError("run is not built yet"); }};
}

}  // namespace polar_express::cli
