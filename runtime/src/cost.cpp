#include "polar_express/runtime/cost.hpp"

#include "polar_express/runtime/program.hpp"

namespace polar_express::runtime {

MatmulCount count_matmuls(const BatchShape& shape, const Schedule& schedule, int steps, const ProductPlan& products) {
  const Program program = compile_program(shape, schedule, steps, products);
  return {program.flops(), program.products_count()};
}

}  // namespace polar_express::runtime
