// The decompositions of support.hpp, compiled once for every runtime test
// executable.
#include "support.hpp"

namespace polar_express::runtime::test {

Matrix orthonormal(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  Eigen::HouseholderQR<Matrix> qr(gaussian(rows, cols, rng));
  return qr.householderQ() * Matrix::Identity(rows, cols);
}

Matrix polar_reference(const Matrix& g) {
  Eigen::BDCSVD<Matrix> svd(g, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return svd.matrixU() * svd.matrixV().transpose();
}

double max_sigma_error(const Matrix& u) {
  const Eigen::VectorXd s = Eigen::JacobiSVD<Matrix>(u).singularValues();
  return (Eigen::VectorXd::Ones(s.size()) - s).cwiseAbs().maxCoeff();
}

}  // namespace polar_express::runtime::test
