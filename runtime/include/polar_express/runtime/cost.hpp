#pragma once
// What running a schedule costs in matrix multiplications: the operations of
// its iteration program (program.hpp), which both backends run, counted.
// C++17.
//
// Dense counting: a product of an m x p and a p x n matrix costs 2 m n p
// FLOPs, also when the plan computes only its lower triangle
// (ProductPlan::symmetric does not change the count).  With k the short and
// K the long side of a matrix:
// - standard form, a step of degree 2q - 1: A = X X^T (2 k^2 K), q - 2
//   Horner products of k x k matrices (2 k^3 each) and P X (2 k^2 K), so
//   4 k^2 K + 2 (q - 2) k^3;
// - Gram form (ProductPlan::gram), per segment between restarts:
//   R = X0 X0^T (2 k^2 K) at its first step; per step the q - 2 Horner
//   products; Q <- H Q (2 k^3) on every step but the segment's first;
//   A <- H A H (two products, 4 k^3) on every step but its last; and
//   X0 <- Q X0 (2 k^2 K) at its end.
// Counts are exact integers in a double up to 2^53 FLOPs.
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/gram.hpp"
#include "polar_express/runtime/schedule.hpp"

#include <cstdint>

namespace polar_express::runtime {

struct MatmulCount {
  double flops = 0;           // summed over the batch
  std::int64_t products = 0;  // matrix products, summed over the batch
};

// The products of `steps` steps of `schedule` (past its list by after_list)
// on every matrix of `shape` under `products` (from plan_products, or built
// by hand).  Throws std::invalid_argument for a bad shape or schedule,
// steps < 1, or restarts that are not increasing steps in (0, steps).
MatmulCount count_matmuls(const BatchShape& shape, const Schedule& schedule, int steps, const ProductPlan& products);

}  // namespace polar_express::runtime
