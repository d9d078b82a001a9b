#include "polar_express/runtime/program.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace polar_express::runtime {
namespace {

// Builds the operation list; holds which buffer currently plays which role.
class Compiler {
 public:
  Compiler(Program& program, const Schedule& schedule) : program_(program), schedule_(schedule) {}

  void run() {
    emit({OpKind::kNormalize, -1, Buffer::kX0});
    if (program_.normalization.kind == NormalizationKind::kAol) {
      // The Gram matrix AOL needs is the first step's, once rescaled.
      emit({OpKind::kGram, -1, Buffer::kA, Buffer::kX0, Buffer::kNone, Buffer::kNone, 1, 0, symmetric()});
      emit({OpKind::kAolScale, -1, Buffer::kA, Buffer::kX0});
      gram_valid_ = true;
    }
    if (program_.products.gram) gram_form();
    else direct_form();
    emit({OpKind::kStore, -1, Buffer::kNone, x_});
  }

 private:
  bool symmetric() const { return program_.products.symmetric; }
  void emit(const Operation& op) { program_.operations.push_back(op); }

  void gram_matrix(int t) {
    if (!gram_valid_) emit({OpKind::kGram, t, Buffer::kA, x_, Buffer::kNone, Buffer::kNone, 1, 0, symmetric()});
    gram_valid_ = false;
  }

  // P = c1 A + ... + c_{q-1} A^{q-1} as alpha * poly: Horner, one product
  // per coefficient past c1 (poly <- alpha A poly + c_j A), none for a cubic.
  struct Scaled {
    Buffer poly;
    double alpha;
  };
  Scaled horner(int t) {
    const std::vector<double>& c = schedule_.step(t).coefficients;
    Scaled p{Buffer::kA, c.back()};
    Buffer slot = Buffer::kP0;
    for (std::size_t j = c.size() - 1; j-- > 1;) {
      emit({OpKind::kProduct, t, slot, Buffer::kA, p.poly, Buffer::kA, p.alpha, c[j], symmetric()});
      p = {slot, 1.0};
      slot = slot == Buffer::kP0 ? Buffer::kP1 : Buffer::kP0;
    }
    return p;
  }

  // X <- c0 X + P X each step.
  void direct_form() {
    for (int t = 0; t < program_.steps; ++t) {
      gram_matrix(t);
      const Scaled p = horner(t);
      const Buffer next = other(x_);
      emit({OpKind::kApply, t, next, p.poly, x_, x_, p.alpha, schedule_.step(t).coefficients[0]});
      x_ = next;
    }
  }

  // The Gram iteration (gram.hpp): per segment A = X0 X0^T; per step
  // H = c0 I + P(A), Q <- H Q (Q = H on the segment's first step), then
  // A <- H (A H) unless the segment ends, where X0 <- Q X0.
  void gram_form() {
    std::vector<char> restart_before(static_cast<std::size_t>(program_.steps) + 1, 0);
    for (int t : program_.products.restarts) restart_before[static_cast<std::size_t>(t)] = 1;
    Buffer q = Buffer::kQ0;
    for (int t = 0; t < program_.steps; ++t) {
      const bool first = t == 0 || restart_before[static_cast<std::size_t>(t)];
      const bool last = t + 1 == program_.steps || restart_before[static_cast<std::size_t>(t + 1)];
      const double c0 = schedule_.step(t).coefficients[0];
      if (first) gram_matrix(t);
      const Scaled p = horner(t);
      Buffer h;  // H = c0 I + P
      if (first) {
        q = Buffer::kQ0;
        h = q;
        emit({OpKind::kAddIdentity, t, q, p.poly, Buffer::kNone, Buffer::kNone, p.alpha, c0});
      } else {
        h = p.poly == Buffer::kP0 ? Buffer::kP1 : Buffer::kP0;
        emit({OpKind::kAddIdentity, t, h, p.poly, Buffer::kNone, Buffer::kNone, p.alpha, c0});
        const Buffer spare = q == Buffer::kQ0 ? Buffer::kQ1 : Buffer::kQ0;
        emit({OpKind::kProduct, t, spare, h, q, Buffer::kNone, 1, 0, symmetric()});
        q = spare;
      }
      if (!last) {
        emit({OpKind::kProduct, t, Buffer::kT, h, Buffer::kA, Buffer::kNone, 1, 0, symmetric()});
        emit({OpKind::kProduct, t, Buffer::kA, h, Buffer::kT, Buffer::kNone, 1, 0, symmetric()});
      } else {
        const Buffer next = other(x_);
        emit({OpKind::kApply, t, next, q, x_, Buffer::kNone, 1, 0});
        x_ = next;
      }
    }
  }

  static Buffer other(Buffer x) { return x == Buffer::kX0 ? Buffer::kX1 : Buffer::kX0; }

  Program& program_;
  const Schedule& schedule_;
  Buffer x_ = Buffer::kX0;
  bool gram_valid_ = false;  // kA holds the Gram matrix of x_
};

std::string format_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

}  // namespace

bool Operation::operator==(const Operation& o) const {
  return kind == o.kind && step == o.step && dst == o.dst && lhs == o.lhs && rhs == o.rhs && addend == o.addend &&
         alpha == o.alpha && beta == o.beta && symmetric == o.symmetric;
}

std::int64_t Program::short_side() const { return std::min(shape.rows, shape.cols); }
std::int64_t Program::long_side() const { return std::max(shape.rows, shape.cols); }

std::vector<Buffer> Program::buffers() const {
  bool used[kBufferCount] = {};
  for (const Operation& op : operations) {
    for (Buffer b : {op.dst, op.lhs, op.rhs, op.addend}) used[static_cast<int>(b)] = true;
  }
  std::vector<Buffer> list;
  for (int b = 1; b < kBufferCount; ++b) {
    if (used[b]) list.push_back(static_cast<Buffer>(b));
  }
  return list;
}

double Program::flops() const {
  const double k = static_cast<double>(short_side());
  const double big = static_cast<double>(long_side());
  double per_matrix = 0;
  for (const Operation& op : operations) {
    switch (op.kind) {
      case OpKind::kGram:
      case OpKind::kApply: per_matrix += 2 * k * k * big; break;
      case OpKind::kProduct: per_matrix += 2 * k * k * k; break;
      default: break;
    }
  }
  return per_matrix * static_cast<double>(shape.batch);
}

std::int64_t Program::products_count() const {
  const auto per_matrix = std::count_if(operations.begin(), operations.end(), [](const Operation& op) {
    return op.kind == OpKind::kGram || op.kind == OpKind::kApply || op.kind == OpKind::kProduct;
  });
  return static_cast<std::int64_t>(per_matrix) * shape.batch;
}

std::string Program::to_string() const {
  std::string text;
  for (const Operation& op : operations) {
    std::string line = op.step < 0 ? std::string("        ") : "step " + std::to_string(op.step + 1);
    line.resize(std::max<std::size_t>(line.size(), 9), ' ');
    std::string kind = runtime::to_string(op.kind);
    kind.resize(std::max<std::size_t>(kind.size(), 13), ' ');
    line += kind;
    const std::string dst = runtime::to_string(op.dst), lhs = runtime::to_string(op.lhs),
                      rhs = runtime::to_string(op.rhs), addend = runtime::to_string(op.addend);
    const std::string alpha = format_number(op.alpha), beta = format_number(op.beta);
    switch (op.kind) {
      case OpKind::kNormalize: line += dst + " <- normalise(G)"; break;
      case OpKind::kGram: line += dst + (wide ? " <- " + lhs + " " + lhs + "^T" : " <- " + lhs + "^T " + lhs); break;
      case OpKind::kAolScale: line += lhs + ", " + dst + " <- D " + lhs + ", D " + dst + " D"; break;
      case OpKind::kProduct:
        line += dst + " <- " + alpha + " " + lhs + " " + rhs;
        if (op.addend != Buffer::kNone) line += " + " + beta + " " + addend;
        break;
      case OpKind::kAddIdentity: line += dst + " <- " + alpha + " " + lhs + " + " + beta + " I"; break;
      case OpKind::kApply:
        line += dst + " <- " + alpha + " " + (wide ? lhs + " " + rhs : rhs + " " + lhs);
        if (op.addend != Buffer::kNone) line += " + " + beta + " " + addend;
        break;
      case OpKind::kStore: line += "U <- " + lhs; break;
    }
    if (op.symmetric) line += "   [lower triangle]";
    text += line + "\n";
  }
  return text;
}

namespace {

// The operations of `steps` steps under `products`, all of them validated by
// the caller.
Program lay_out(const BatchShape& shape, const Schedule& schedule, int steps, const ProductPlan& products) {
  Program program;
  program.shape = shape;
  program.steps = steps;
  program.wide = shape.rows <= shape.cols;
  program.normalization = schedule.normalization;
  program.products = products;
  Compiler(program, schedule).run();
  return program;
}

}  // namespace

Program compile_program(const BatchShape& shape, const Schedule& schedule, const PlanOptions& options,
                        const BackendTraits& traits) {
  validate(shape);
  validate(schedule);
  if (options.steps < 0 || options.steps > kMaxProgramSteps) {
    throw std::invalid_argument("steps " + std::to_string(options.steps) + " is outside [0, " +
                                std::to_string(kMaxProgramSteps) + "]");
  }
  if (options.threads < 0) throw std::invalid_argument("threads " + std::to_string(options.threads) + " is negative");
  const int steps = options.steps == 0 ? static_cast<int>(schedule.steps.size()) : options.steps;
  if (steps > kMaxProgramSteps) {
    throw std::invalid_argument("schedule '" + schedule.name + "' has " + std::to_string(steps) +
                                " steps, more than the " + std::to_string(kMaxProgramSteps) + " a plan runs");
  }
  // plan_products places restarts inside (0, steps) by construction.
  return lay_out(shape, schedule, steps,
                 plan_products(shape, schedule, steps, options, significand_bits(traits.storage), traits.symmetric_from_k));
}

Program compile_program(const BatchShape& shape, const Schedule& schedule, int steps, const ProductPlan& products) {
  validate(shape);
  validate(schedule);
  if (steps < 1 || steps > kMaxProgramSteps) {
    throw std::invalid_argument("steps " + std::to_string(steps) + " is outside [1, " +
                                std::to_string(kMaxProgramSteps) + "]");
  }
  int previous = 0;
  for (int t : products.restarts) {
    if (t <= previous || t >= steps) {
      throw std::invalid_argument("restart before step " + std::to_string(t) + " is not increasing inside (0, " +
                                  std::to_string(steps) + ")");
    }
    previous = t;
  }
  return lay_out(shape, schedule, steps, products);
}

const char* to_string(Buffer buffer) {
  switch (buffer) {
    case Buffer::kNone: return "-";
    case Buffer::kX0: return "X0";
    case Buffer::kX1: return "X1";
    case Buffer::kA: return "A";
    case Buffer::kP0: return "P0";
    case Buffer::kP1: return "P1";
    case Buffer::kQ0: return "Q0";
    case Buffer::kQ1: return "Q1";
    case Buffer::kT: return "T";
  }
  return "?";
}

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kNormalize: return "normalise";
    case OpKind::kGram: return "gram";
    case OpKind::kAolScale: return "aol-scale";
    case OpKind::kProduct: return "product";
    case OpKind::kAddIdentity: return "add-identity";
    case OpKind::kApply: return "apply";
    case OpKind::kStore: return "store";
  }
  return "?";
}

}  // namespace polar_express::runtime
