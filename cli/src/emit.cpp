#include "common.hpp"

namespace polar_express::cli {

Command add_emit_command(CLI::App& root) {
  CLI::App* app = root.add_subcommand("emit", "(being written)");
  return {app, [] () -> int { throw UsageError("emit is not built yet"); }};
}

}  // namespace polar_express::cli
