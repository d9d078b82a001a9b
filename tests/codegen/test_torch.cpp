// Target torch: valid Python whose coefficients are the solver's doubles, and
// whose iteration (run here on a small pure-Python stand-in for torch, since
// torch is not installed) reaches the polar factor within the certified error.
#include "polar_express/codegen/codegen.hpp"
#include "polar_express/solver/catalogue.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>

using namespace polar_express;
using codegen_test::read_text;
using codegen_test::TempDir;
using codegen_test::write_text;

namespace {

// Just enough of torch for the generated function, on lists of floats in
// double precision (bfloat16() is the identity).
const char* kTorchStandIn = R"(import math

class Tensor:
    def __init__(self, rows):
        self.rows = [list(map(float, r)) for r in rows]
    ndim = 2
    def size(self, dim):
        return (len(self.rows), len(self.rows[0]))[dim]
    def bfloat16(self):
        return Tensor(self.rows)
    @property
    def mT(self):
        return Tensor(list(zip(*self.rows)))
    def norm(self, dim, keepdim):
        return math.sqrt(sum(v * v for r in self.rows for v in r))
    def __matmul__(self, other):
        cols = list(zip(*other.rows))
        return Tensor([[sum(a * b for a, b in zip(r, c)) for c in cols] for r in self.rows])
    def __rmul__(self, scalar):
        return Tensor([[scalar * v for v in r] for r in self.rows])
    def __add__(self, other):
        return Tensor([[a + b for a, b in zip(r, s)] for r, s in zip(self.rows, other.rows)])
    def __truediv__(self, scalar):
        return Tensor([[v / scalar for v in r] for r in self.rows])
)";

// Runs the schedule's function on Q1 [diag(s) 0] Q2 (and its transpose) with
// rotations Q1, Q2; prints max |X - Q1 [I 0] Q2| over both.
const char* kCheck = R"(import math, sys
import schedule_module as m
from torch import Tensor

def rotation(n, angle):
    q = [[float(i == j) for j in range(n)] for i in range(n)]
    for i in range(n - 1):
        c, s = math.cos(angle * (i + 1)), math.sin(angle * (i + 1))
        g = [[float(a == b) for b in range(n)] for a in range(n)]
        g[i][i], g[i][i + 1], g[i + 1][i], g[i + 1][i + 1] = c, -s, s, c
        q = (Tensor(q) @ Tensor(g)).rows
    return Tensor(q)

sigma = [1.0, 0.5, 0.2, 0.05]
q1, q2 = rotation(4, 0.3), rotation(6, 0.7)
d = Tensor([[sigma[i] if i == j else 0.0 for j in range(6)] for i in range(4)])
e = Tensor([[1.0 if i == j else 0.0 for j in range(6)] for i in range(4)])
g, expected = q1 @ d @ q2, q1 @ e @ q2
worst = 0.0
for x, want in ((g, expected), (g.mT, expected.mT)):
    out = getattr(m, sys.argv[1])(x)
    worst = max(worst, max(abs(a - b) for r, s in zip(out.rows, want.rows) for a, b in zip(r, s)))
print(worst)
)";

}  // namespace

TEST_CASE("torch output parses and lists the published doubles", "[codegen][torch][.needs-python3]") {
  if (!codegen_test::have_program("python3")) test::skip_run("python3 not found: the emitted Python is not checked");
  // nanochat's list as train_gpt.py prints it (tests/data/published_schedules.json):
  // the emitted table must hold exactly these doubles.
  const char* published[5][3] = {
      {"8.156554524902461", "-22.48329292557795", "15.878769915207462"},
      {"4.042929935166739", "-2.808917465908714", "0.5000178451051316"},
      {"3.8916678022926607", "-2.772484153217685", "0.5060648178503393"},
      {"3.285753657755655", "-2.3681294933425376", "0.46449024233003106"},
      {"2.3465413258596377", "-1.7097828382687081", "0.42323551169305323"},
  };
  const Schedule schedule = builtin_schedule("polar-express-nanochat-d5");
  const auto files = codegen::emit(schedule, codegen::Target::kTorch);
  REQUIRE(files.size() == 1);
  CHECK(files[0].name == "polar_express_nanochat_d5.py");
  TempDir dir;
  write_text(dir.file("schedule_module.py"), files[0].content);
  // float.hex() is exact, so the comparison is of the very doubles.
  const int status = codegen_test::run_command(
      "python3 -c 'import ast, sys\n"
      "tree = ast.parse(open(sys.argv[1]).read())\n"
      "table = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == \"COEFFICIENTS\")\n"
      "print(\" \".join(float.hex(c) for step in table for c in step))\n"
      "assert any(isinstance(n, ast.FunctionDef) and n.name == \"polar_express_nanochat_d5\" for n in tree.body)' " +
          dir.file("schedule_module.py"),
      dir.file("out"));
  const std::string out = read_text(dir.file("out"));
  INFO(out);
  REQUIRE(status == 0);
  std::istringstream printed(out);
  for (const auto& step : published) {
    for (const char* text : step) {
      std::string hex;
      REQUIRE(printed >> hex);
      CHECK(std::strtod(hex.c_str(), nullptr) == std::strtod(text, nullptr));
      // Python's repr and the emitter's shortest decimal are the same text.
      CHECK_THAT(files[0].content, Catch::Contains(text));
    }
  }
  std::string extra;
  CHECK_FALSE(printed >> extra);
  CHECK_THAT(files[0].content, Catch::Contains("X.norm(dim=(-2, -1), keepdim=True) * 1.02 + 1e-06"));
  CHECK_THAT(files[0].content, Catch::Contains("COEFFICIENTS[min(t, len(COEFFICIENTS) - 1)]"));
}

TEST_CASE("the torch function reaches the polar factor for degrees 3, 5 and 7", "[codegen][torch][.needs-python3]") {
  if (!codegen_test::have_program("python3")) test::skip_run("python3 not found: the emitted Python is not run");
  DesignOptions options;
  options.lower = parse_real("1e-3", 576);
  options.target_error = parse_real("1e-9", 576);
  options.cushion = parse_real("0.02407327424182761", 576);
  for (const int degree : {3, 5, 7}) {
    options.degrees = {degree};
    const Schedule schedule = design_schedule(options);
    const std::string id = codegen::identifier(schedule.name);
    TempDir dir;
    write_text(dir.file("torch.py"), kTorchStandIn);
    write_text(dir.file("schedule_module.py"), codegen::emit(schedule, codegen::Target::kTorch).at(0).content);
    write_text(dir.file("check.py"), kCheck);
    const int status =
        codegen_test::run_command("cd " + dir.file("") + " && python3 check.py " + id, dir.file("out"));
    const std::string out = read_text(dir.file("out"));
    INFO("degree " << degree << ": " << out);
    REQUIRE(status == 0);
    // The singular values (at most 1/1.01 of the smallest's 0.05 / ||G||_F
    // ratio away from [1e-3, 1]) end within the certified error of 1, and
    // so does every entry of U (p(S) - I) V^T; double rounding adds ~1e-15.
    CHECK(std::stod(out) <= codegen::double_rounded_up(schedule.final_error_enclosure.upper) + 1e-12);
  }
}
