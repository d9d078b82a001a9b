// The time limit and progress of long work (cli/src/long_work.hpp) on the
// solver itself: a design past --max-minutes stops from inside the solver
// with the command's message, and the estimates order the work sensibly.
#include "common.hpp"
#include "long_work.hpp"

#include "polar_express/solver/schedule.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

using namespace polar_express;

TEST_CASE("a design past its time limit stops inside the solver", "[cli][long]") {
  DesignOptions options;
  options.degrees = {127};  // several seconds a step
  options.lower = parse_real("1e-3", 576);
  options.steps = 3;
  cli::LongWork work("design", 0.5 / 60);
  const auto start = std::chrono::steady_clock::now();
  {
    ScopedWorkMonitor monitor(work);
    CHECK_THROWS_WITH(design_schedule(options),
                      Catch::Contains("design stopped after") && Catch::Contains("the --max-minutes limit"));
  }
  // The checkpoints are frequent: the stop comes well before the step ends.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  // Without a monitor the solver runs as before (degree 5 is quick).
  options.degrees = {5};
  CHECK(design_schedule(options).steps.size() == 3);
}

TEST_CASE("work estimated past the limit is refused before it starts", "[cli][long]") {
  cli::LongWork work("verify", 1);
  CHECK_THROWS_WITH(work.expect(120, "the certificate"),
                    Catch::Contains("verify: the certificate is estimated at 2 min, beyond --max-minutes 1"));
  CHECK_NOTHROW(work.expect(1, "the certificate"));
  cli::LongWork unlimited("verify", 0);
  CHECK_NOTHROW(unlimited.expect(1, "the certificate"));
}

TEST_CASE("the cost model grows with degree and precision", "[cli][long]") {
  CHECK(cli::estimated_remez_seconds(63, 512) > 4 * cli::estimated_remez_seconds(31, 512));
  CHECK(cli::estimated_remez_seconds(31, 65536) > 100 * cli::estimated_remez_seconds(31, 512));
  CHECK(cli::estimated_image_seconds(5, 576) < cli::estimated_remez_seconds(5, 330));
  CHECK(cli::describe_seconds(40) == "40 s");
  CHECK(cli::describe_seconds(12 * 60) == "12 min");
  CHECK(cli::describe_seconds(3.5 * 3600) == "3.5 h");
}
