// The command line of polar-express (entry.hpp).
#include "entry.hpp"

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

namespace polar_express::cli {

int run_command_line(int argc, char** argv) {
  Application cli;
  // CLI11 answers a misspelt command with "A subcommand is required".
  if (argc > 1 && argv[1][0] != '-' && cli.find(argv[1]) == nullptr) {
    std::cerr << "polar-express: error: unknown command '" << argv[1] << "' (expected one of " << cli.command_names()
              << "; see --help)\n";
    return kExitBadInput;
  }
  try {
    cli.app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "polar-express: error: " << e.what() << " (see --help)\n";
    return kExitBadInput;
  }
  for (const Command& command : cli.commands) {
    if (command.app->parsed()) return run_guarded(command.run);
  }
  return kExitBadInput;
}

}  // namespace polar_express::cli
