#pragma once
// Singular values of gradient matrices as a schedule's normalisation scales
// them, and a schedule's exact error on them (for `analyze`).
#include "shape.hpp"

#include "polar_express/solver/schedule.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace polar_express::cli {

// The matrices a tensor of `shape` is orthogonalised as: 2-D (M, N) is one
// matrix; 3-D (B, M, N) a batch of B, as the runtime batches; higher ranks
// (d0, d1, ..., dn) one d0 x (d1 ... dn) matrix, as Muon implementations
// flatten convolution filters.  nullopt for rank < 2 or no elements.
std::optional<Shape> matrices_of(const std::vector<std::int64_t>& shape);

// The singular values of one matrix, in double (Eigen's BDCSVD), split into
// the unresolved ones and the rest.  Unresolved: at most
// max(roundoff ||X||_F, max(M, N) 2^-52 sigma_max), with `roundoff` the
// unit roundoff of the dtype the values were stored in.  Storing rounds
// every entry by up to that relative amount, which moves every singular
// value by up to roundoff ||X||_F (Weyl's inequality), and the SVD resolves
// nothing below its own bound: these are zero for all the data can tell,
// typically a rank-deficient gradient's null space (which every odd
// polynomial keeps near 0, as the polar factor of the nonzero part does).
struct MatrixSpectrum {
  std::vector<double> sigma;  // the resolved ones, descending
  std::size_t unresolved = 0;
  // The Frobenius norm as the runtime forms it: max|x| and sum (x / max|x|)^2.
  double largest = 0;
  double sum_of_squares = 0;
  double frobenius() const { return largest * std::sqrt(sum_of_squares); }
  // The same split for the AOL-scaled matrix (vocabulary.hpp's definition,
  // the runtime's), when asked for.
  std::vector<double> aol_sigma;
  std::size_t aol_unresolved = 0;
};

// `data`: a rows x cols matrix, row-major, stored with unit roundoff `roundoff`.
MatrixSpectrum matrix_spectrum(const double* data, std::int64_t rows, std::int64_t cols, double roundoff,
                               bool with_aol);

// How a schedule scales its input before the first step (its normalisation,
// as the runtime applies it) and that normalisation as text.
struct Scaling {
  Normalization normalization;
  std::string text;
  bool aol() const { return normalization.kind == NormalizationKind::kAol; }
};
// The schedule's scaling.
Scaling scaling_of(const Schedule& schedule);

// The resolved singular values of `m` as `scaling` leaves them (the AOL ones
// must have been computed).
std::vector<double> scaled_spectrum(const MatrixSpectrum& m, const Scaling& scaling);

// max and mean of |1 - f_T(s)| over values s, with f_T the first `steps`
// steps of the schedule (past its list by after_list), evaluated in MPFR at
// the schedule's precision: exact for the given (double) s to far more
// digits than any output prints.
struct ErrorSummary {
  Real max_error;
  Real sum;
  std::size_t count = 0;
  void add(const ErrorSummary& other);
  double mean() const { return count ? static_cast<double>(sum / count) : 0.0; }
};
ErrorSummary schedule_errors(const std::vector<ScheduleStep>& steps, unsigned precision_bits,
                             const std::vector<double>& values);

// The smallest value with at least a fraction p of `sorted` (ascending,
// nonempty) at or below it.
double lower_quantile(const std::vector<double>& sorted, double p);

}  // namespace polar_express::cli
