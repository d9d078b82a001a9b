// polar-express emit: schedules turned into C++, CUDA, JSON or PyTorch source,
// and (--registry) the registry header that lists them by name.
#include "common.hpp"
#include "long_work.hpp"

#include "polar_express/codegen/codegen.hpp"
#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/schedule_io.hpp"

#include <memory>

namespace polar_express::cli {
namespace {

struct EmitArguments {
  std::vector<std::string> files;
  std::vector<std::string> builtins;
  std::string target;
  std::string output;
  bool registry = false;
  unsigned precision = 256;
  std::string max_minutes = "10";
};

// The schedules named on the command line: files first, then built-ins in
// the order given ("all": the whole catalogue).
std::vector<Schedule> load_schedules(const EmitArguments& args) {
  std::vector<Schedule> schedules;
  for (const std::string& file : args.files) schedules.push_back(read_schedule_file(file, args.precision));
  for (const std::string& name : args.builtins) {
    if (name == "all") {
      for (const std::string& each : builtin_names()) schedules.push_back(builtin_schedule(each, args.precision));
    } else {
      schedules.push_back(builtin_schedule(name, args.precision));
    }
  }
  return schedules;
}

int run_emit(const EmitArguments& args) {
  if (is_standard_output(args.output)) {
    throw UsageError("--output '" + args.output + "': emit writes files into a directory; name one");
  }
  const codegen::Target target = codegen::parse_target(args.target);
  check_precision(args.precision);
  const std::size_t given = args.files.size() + args.builtins.size();
  if (given == 0) throw UsageError("give a SCHEDULE.json or --builtin NAME");
  if (!args.registry && (given > 1 || (args.builtins.size() == 1 && args.builtins[0] == "all"))) {
    throw UsageError("several schedules are emitted together only with --registry");
  }
  LongWork work("emit", parse_minutes(args.max_minutes));
  const std::vector<Schedule> schedules = load_schedules(args);
  double seconds = 0;
  for (const Schedule& schedule : schedules) {
    seconds += estimated_certify_seconds(schedule, static_cast<int>(schedule.steps.size()));
  }
  const std::string what = schedules.size() == 1
                               ? "the certificate of " + std::to_string(schedules[0].steps.size()) + " steps"
                               : "the certificates of " + std::to_string(schedules.size()) + " schedules";
  work.expect(seconds, what + " at " + std::to_string(args.precision) + " bits");
  // Everything is generated before the first byte is written, and
  // write_files() puts all the files in place or none.
  std::vector<OutputFile> files;
  {
    ScopedWorkMonitor monitor(work);
    for (const Schedule& schedule : schedules) {
      for (codegen::GeneratedFile& file : codegen::emit(schedule, target)) {
        files.push_back({std::move(file.name), std::move(file.content)});
      }
    }
  }
  if (args.registry) {
    codegen::GeneratedFile file = codegen::registry(schedules, target);
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
      "         and DIR/<ident>_cuda.hpp, the factory host code includes\n"
      "  json   DIR/<ident>.json schema polar-express/schedule/v1\n"
      "  torch  DIR/<ident>.py   a PyTorch function in the published reference formulation\n"
      "<ident> is the schedule's name with '-' turned to '_'.  DIR is created (with its parents)\n"
      "when missing.  With --registry, several schedules (files, --builtin NAME repeated, or\n"
      "--builtin all) are emitted together with the header that lists them by name:\n"
      "  cpp    DIR/polar_express_registry.hpp       each name's runtime::Schedule\n"
      "  cuda   DIR/polar_express_cuda_registry.hpp  each name's kernel-set factory");
  app->add_option("schedule", args->files, "Schedule file(s): this tool's JSON or a published-list object");
  app->add_option("--builtin", args->builtins,
                  "A published schedule compiled into the tool, e.g. polar-express-paper-d5 (repeatable with "
                  "--registry; 'all' for the whole catalogue)");
  app->add_option("--target", args->target, "cpp, cuda, json or torch")->required();
  app->add_option("--output", args->output,
                  "Directory to write into, created with its parents when missing; all files or none\n"
                  "(on failure the originals stay and created directories are removed)")
      ->required()
      ->transform(path_text());
  app->add_flag("--registry", args->registry, "Also write the registry header of the emitted schedules (cpp, cuda)");
  app->add_option("--precision", args->precision, "MPFR precision in bits for reading and certifying (64..65536)")
      ->transform(integer_text<unsigned>())
      ->capture_default_str();
  app->add_option("--max-minutes", args->max_minutes,
                  "Stop (exit 2, nothing written) once certifying runs this long; refused up front when its\n"
                  "estimate is longer.  0: no limit")
      ->capture_default_str();
  return {app, [args] { return run_emit(*args); }};
}

}  // namespace polar_express::cli
