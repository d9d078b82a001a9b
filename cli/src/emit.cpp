// polar-express emit: a schedule turned into C++, CUDA, JSON or PyTorch source.
#include "common.hpp"
#include "long_work.hpp"

#include "polar_express/codegen/codegen.hpp"

#include <memory>

namespace polar_express::cli {
namespace {

struct EmitArguments {
  ScheduleChoice schedule;
  std::string target;
  std::string output;
  unsigned precision = 256;
  std::string max_minutes = "10";
};

int run_emit(const EmitArguments& args) {
  check_schedule_choice(args.schedule);
  if (is_standard_output(args.output)) {
    throw UsageError("--output '" + args.output + "': emit writes files into a directory; name one");
  }
  const codegen::Target target = codegen::parse_target(args.target);
  check_precision(args.precision);
  LongWork work("emit", parse_minutes(args.max_minutes));
  const Schedule schedule = load_schedule(args.schedule, args.precision);
  const int steps = static_cast<int>(schedule.steps.size());
  work.expect(estimated_certify_seconds(schedule, steps),
              "the certificate of " + std::to_string(steps) + " steps at " + std::to_string(args.precision) + " bits");
  // Everything is generated before the first byte is written, and
  // write_files() puts all the files in place or none.
  std::vector<OutputFile> files;
  {
    ScopedWorkMonitor monitor(work);
    for (codegen::GeneratedFile& file : codegen::emit(schedule, target)) {
      files.push_back({std::move(file.name), std::move(file.content)});
    }
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
  add_schedule_choice(*app, args->schedule);
  app->add_option("--target", args->target, "cpp, cuda, json or torch")->required();
  app->add_option("--output", args->output,
                  "Directory to write into, created with its parents when missing; all files or none\n"
                  "(on failure the originals stay and created directories are removed)")
      ->required()
      ->transform(path_text());
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
