// polar-express emit: a schedule turned into C++, CUDA, JSON or PyTorch source.
#include "common.hpp"

#include "polar_express/codegen/codegen.hpp"
#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/schedule_io.hpp"

#include <memory>

namespace polar_express::cli {
namespace {

struct EmitArguments {
  std::string schedule_file;
  std::string builtin;
  std::string target;
  std::string output;
  unsigned precision = 256;
};

int run_emit(const EmitArguments& args) {
  if (args.schedule_file.empty() == args.builtin.empty()) {
    throw UsageError("give exactly one of SCHEDULE.json and --builtin NAME");
  }
  const codegen::Target target = codegen::parse_target(args.target);
  if (args.precision < kMinPrecisionBits || args.precision > kMaxPrecisionBits) {
    throw UsageError("--precision " + std::to_string(args.precision) + " is outside [" +
                     std::to_string(kMinPrecisionBits) + ", " + std::to_string(kMaxPrecisionBits) + "] bits");
  }
  const Schedule schedule = args.builtin.empty() ? read_schedule_file(args.schedule_file, args.precision)
                                                 : builtin_schedule(args.builtin, args.precision);
  // Everything is generated before the first byte is written, and
  // write_files() puts all the files in place or none.
  std::vector<OutputFile> files;
  for (codegen::GeneratedFile& file : codegen::emit(schedule, target)) {
    files.push_back({std::move(file.name), std::move(file.content)});
  }
  write_files(args.output, files);
  return kExitOk;
}

}  // namespace

Command add_emit_command(CLI::App& root) {
  auto args = std::make_shared<EmitArguments>();
  CLI::App* app = root.add_subcommand(
      "emit",
      "Generate code for a schedule, certified over its input interval first:\n"
      "  cpp    DIR/<ident>.hpp  C++17 constexpr tables (exact hex-float coefficients, metadata)\n"
      "  cuda   DIR/<ident>.cu   kernels specialised to the schedule (nvcc -std=c++17 -I runtime/include)\n"
      "  json   DIR/<ident>.json schema polar-express/schedule/v1\n"
      "  torch  DIR/<ident>.py   a PyTorch function in the published reference formulation\n"
      "<ident> is the schedule's name with '-' turned to '_'.");
  app->add_option("schedule", args->schedule_file, "Schedule file: this tool's JSON or a published-list object");
  app->add_option("--builtin", args->builtin, "A published schedule compiled into the tool, e.g. polar-express-paper-d5");
  app->add_option("--target", args->target, "cpp, cuda, json or torch")->required();
  app->add_option("--output", args->output, "Existing directory to write into (only on success)")->required();
  app->add_option("--precision", args->precision, "MPFR precision in bits for reading and certifying (64..65536)")
      ->capture_default_str();
  return {app, [args] { return run_emit(*args); }};
}

}  // namespace polar_express::cli
