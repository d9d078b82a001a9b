// The main of test_runtime_cuda, the CUDA backend's tests on a GPU
// (test_cuda.cpp; built with the backend only, tests/CMakeLists.txt).  It
// returns 77, which CTest counts as skipped (SKIP_RETURN_CODE), when they
// cannot run: there is no device, in which case only the tests tagged [no-device] run
// first (the backend must refuse clearly) and a failure among them is
// reported as such.  With a device every test but those runs and none
// skips.  A broken installation (device_count() throws, e.g. a driver too
// old for the runtime) fails the suite.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "polar_express/runtime/cuda/plan.hpp"

#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace {
constexpr int kSkipped = 77;
}

int main(int argc, char** argv) {
  int devices = 0;
  try {
    devices = polar_express::runtime::cuda::device_count();
  } catch (const std::exception& e) {
    std::cerr << "test_runtime_cuda: " << e.what() << '\n';
    return 1;
  }
  Catch::Session session;
  if (const int status = session.applyCommandLine(argc, argv); status != 0) return status;
  std::vector<std::string>& filters = session.configData().testsOrTags;
  if (devices == 0) {
    filters = {"[no-device]"};
  } else if (filters.empty()) {
    filters = {"~[no-device]"};
  }
  const int failures = session.run();
  if (devices > 0 || failures != 0) return failures;
  std::cout << "SKIPPED: no CUDA device (only the [no-device] checks ran)\n";
  return kSkipped;
}
