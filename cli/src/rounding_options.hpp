#pragma once
// What verify, design and plan share for certificates in the precision a
// schedule runs in (solver/rounding.hpp): the options, the runtime's Gram
// restarts for them, and the table.
#include "shape.hpp"

#include "polar_express/runtime/schedule.hpp"
#include "polar_express/solver/rounding.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace polar_express::cli {

struct RoundingArguments {
  std::string dtype;  // empty: no rounding certificate
  std::string shape;
  std::string form = "direct";
  std::string bound = "probabilistic";
  std::string failure_probability = "1e-6";
};

// --dtype and --shape (unless the command has its own), --form, --bound,
// --failure-probability.
void add_rounding_options(CLI::App& app, RoundingArguments& args, bool with_dtype, bool with_shape);

// The options, or nullopt without --dtype; UsageError for a bad value or
// for --dtype without --shape (and the other way round).  `shape_needed`:
// the command has no shapes of its own.
std::optional<RoundingOptions> parse_rounding(const RoundingArguments& args, bool shape_needed = true);

// The same options for another matrix shape.
RoundingOptions for_shape(const RoundingOptions& options, const Shape& shape);

// For the Gram form: the restarts the runtime places for `steps` steps of
// `schedule` on the options' shape and element type (runtime/gram.hpp).
void place_gram_restarts(RoundingOptions& options, const runtime::Schedule& schedule, int steps);

// Per step: the interval, the error bound, the terms and the band; then the
// verdict (blow-up, vanishing singular values).
std::string rounding_table(const RoundingCertificate& certificate);

// "probabilistic (holds with probability >= 1 - 1e-06)" or "worst case".
std::string bound_text(const RoundingOptions& options);

}  // namespace polar_express::cli
