#include "common.hpp"

namespace polar_express::cli {

Application::Application()
    : app("polar-express: design, verify, emit, run, plan and analyze the polynomial iterations\n"
          "that compute the matrix polar factor (the orthogonalization of the Muon optimizer).\n"
          "Exit codes: 0 success, 1 a check failed, 2 bad usage or input.") {
  app.require_subcommand(1);
  commands = {add_design_command(app), add_verify_command(app), add_emit_command(app),
              add_run_command(app),    add_plan_command(app),   add_analyze_command(app)};
}

const Command* Application::find(const std::string& name) const {
  for (const Command& command : commands) {
    if (command.app->get_name() == name) return &command;
  }
  return nullptr;
}

std::string Application::command_names() const {
  std::string names;
  for (const Command& command : commands) names += (names.empty() ? "" : ", ") + command.app->get_name();
  return names;
}

}  // namespace polar_express::cli
