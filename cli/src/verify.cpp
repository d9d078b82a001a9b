#include "common.hpp"

namespace polar_express::cli {

Command add_verify_command(CLI::App& root) {
  CLI::App* app = root.add_subcommand("verify", "(being written)");
  return {app, [] () -> int { throw UsageError("verify is not built yet"); }};
}

}  // namespace polar_express::cli
