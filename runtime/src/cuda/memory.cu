// Device discovery, buffers and converting copies of the CUDA backend.
#include "polar_express/runtime/cuda/detail/device.cuh"
#include "polar_express/runtime/cuda/plan.hpp"

#include <string>
#include <utility>
#include <vector>

namespace polar_express::runtime::cuda {

namespace {

// "13.0" from the CUDA version number 13000.
std::string cuda_version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

}  // namespace

int device_count() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess) return count;
  cudaGetLastError();  // clear the error so that later calls report their own
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  cudaRuntimeGetVersion(&runtime);
  // No device, or no NVIDIA driver at all (the runtime then reports an
  // insufficient driver, and the driver version as 0): a machine without a
  // GPU.  Anything else (a driver too old for this runtime, a broken
  // installation) must not pass for "no GPU", which would quietly turn every
  // GPU test into a skip.
  if (status == cudaErrorNoDevice || (status == cudaErrorInsufficientDriver && driver == 0)) return 0;
  throw CudaError(std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(status) + " (" +
                  cudaGetErrorString(status) + "); the driver supports CUDA " + cuda_version_text(driver) +
                  ", this program's runtime is CUDA " + cuda_version_text(runtime));
}

void synchronize(cudaStream_t stream) { detail::check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize"); }

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) detail::check_cuda(cudaMalloc(&data_, bytes), ("cudaMalloc of " + std::to_string(bytes) + " bytes").c_str());
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) cudaFree(data_);  // a destructor cannot throw; a failed free leaves nothing to do
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void upload(const float* host, void* device, std::size_t count, ElementType dtype) {
  require_device_element(dtype);
  if (dtype == ElementType::kF32) {
    detail::check_cuda(cudaMemcpy(device, host, count * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy (upload)");
    return;
  }
  std::vector<unsigned short> narrow(count);
  for (std::size_t i = 0; i < count; ++i) {
    narrow[i] = dtype == ElementType::kF16 ? static_cast<__half_raw>(__float2half_rn(host[i])).x
                                     : static_cast<__nv_bfloat16_raw>(__float2bfloat16_rn(host[i])).x;
  }
  detail::check_cuda(cudaMemcpy(device, narrow.data(), count * 2, cudaMemcpyHostToDevice), "cudaMemcpy (upload)");
}

void download(const void* device, float* host, std::size_t count, ElementType dtype) {
  require_device_element(dtype);
  if (dtype == ElementType::kF32) {
    detail::check_cuda(cudaMemcpy(host, device, count * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy (download)");
    return;
  }
  std::vector<unsigned short> narrow(count);
  detail::check_cuda(cudaMemcpy(narrow.data(), device, count * 2, cudaMemcpyDeviceToHost), "cudaMemcpy (download)");
  for (std::size_t i = 0; i < count; ++i) {
    if (dtype == ElementType::kF16) {
      __half_raw raw;
      raw.x = narrow[i];
      host[i] = __half2float(__half(raw));
    } else {
      __nv_bfloat16_raw raw;
      raw.x = narrow[i];
      host[i] = __bfloat162float(__nv_bfloat16(raw));
    }
  }
}

}  // namespace polar_express::runtime::cuda
