// polar-express: design, verify, emit and run polynomial iterations for the
// matrix polar factor.  Exit codes: 0 success, 1 a check failed, 2 bad input.
#include "common.hpp"

#include "polar_express/solver/real.hpp"

#include <iostream>

namespace {

int run_guarded(const std::function<int()>& action) {
  using namespace polar_express;
  try {
    return action();
  } catch (const cli::UsageError& e) {
    std::cerr << "polar-express: error: " << e.what() << '\n';
    return cli::kExitBadInput;
  } catch (const std::invalid_argument& e) {
    std::cerr << "polar-express: error: " << e.what() << '\n';
    return cli::kExitBadInput;
  } catch (const SolverError& e) {
    std::cerr << "polar-express: solver failed: " << e.what() << '\n';
    return cli::kExitCheckFailed;
  } catch (const std::exception& e) {
    std::cerr << "polar-express: error: " << e.what() << '\n';
    return cli::kExitCheckFailed;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace polar_express::cli;
  CLI::App app{"polar-express: design, verify, emit and run the polynomial iterations that compute\n"
               "the matrix polar factor (the orthogonalization of the Muon optimizer).\n"
               "Exit codes: 0 success, 1 a check failed, 2 bad usage or input."};
  app.require_subcommand(1);
  const std::vector<Command> commands{add_design_command(app), add_verify_command(app), add_emit_command(app),
                                      add_run_command(app),    add_plan_command(app),   add_analyze_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "polar-express: error: " << e.what() << " (see --help)\n";
    return kExitBadInput;
  }
  for (const Command& command : commands) {
    if (command.app->parsed()) return run_guarded(command.run);
  }
  return kExitBadInput;
}
