"""What orthogonalize needs from each array library: fresh outputs of the same
kind, row-major copies, copies into ``out=``, the current CUDA stream, and
per-matrix numbers in the caller's library.  The data itself always crosses to
the runtime through DLPack (nanobind's ndarray)."""

from __future__ import annotations

import sys

import numpy as np

DEVICE_CPU = 1  # DLPack device types
DEVICE_CUDA = 2


class NumpyArrays:
    name = "numpy"
    writable_output = True

    @staticmethod
    def prepare(x):
        if not x.dtype.isnative or x.dtype.kind not in "fiucb":
            raise TypeError(f"numpy dtype {x.dtype} is not supported; polar_express takes float64, float32 or "
                            "float16 on the CPU")
        return x

    @staticmethod
    def device(x):
        return DEVICE_CPU, 0

    @staticmethod
    def empty_like(x):
        return np.empty_like(x)  # keeps a Fortran-ordered (column-major) layout

    @staticmethod
    def empty_row_major(x):
        return np.empty(x.shape, dtype=x.dtype)

    @staticmethod
    def contiguous(x):
        return np.ascontiguousarray(x)

    @staticmethod
    def copy_into(out, result):
        np.copyto(out, result)

    @staticmethod
    def is_writable(x):
        return bool(x.flags.writeable)

    @staticmethod
    def is_lazy_view(x):
        return False

    @staticmethod
    def finish(result, like):
        return result

    @staticmethod
    def values(values, shape, like):
        return np.asarray(values, dtype=np.float64).reshape(shape)


class TorchArrays:
    name = "torch"
    writable_output = True

    @staticmethod
    def prepare(x):
        import torch

        if x.layout != torch.strided:
            raise TypeError(f"torch tensors of layout {x.layout} are not supported (pass a dense tensor)")
        if x.requires_grad and torch.is_grad_enabled():
            raise TypeError(
                "polar_express.orthogonalize is not differentiable: call it under torch.no_grad() or on "
                "x.detach() (polar_express.torch.orthogonalize raises only if a gradient reaches it)"
            )
        # DLPack exports the memory without torch's lazy negation bit (x._neg_view()):
        # the runtime must see the values, not the stored ones.
        return x.detach().resolve_neg()

    @staticmethod
    def is_lazy_view(x):
        """Whether writing x's memory would not write its values (a negative view)."""
        return x.is_neg()

    @staticmethod
    def device(x):
        if x.is_cuda:
            return DEVICE_CUDA, x.get_device()
        if x.is_cpu:
            return DEVICE_CPU, 0
        return tuple(int(v) for v in x.__dlpack_device__())

    @staticmethod
    def empty_like(x):
        import torch

        return torch.empty_like(x)  # keeps the layout of a dense input

    @staticmethod
    def empty_row_major(x):
        import torch

        return torch.empty(x.shape, dtype=x.dtype, device=x.device)

    @staticmethod
    def contiguous(x):
        return x.contiguous()

    @staticmethod
    def copy_into(out, result):
        out.copy_(result)

    @staticmethod
    def is_writable(x):
        return not x.requires_grad or not x.is_leaf

    @staticmethod
    def finish(result, like):
        return result

    @staticmethod
    def stream(x):
        import torch

        return torch.cuda.current_stream(x.device).cuda_stream

    @staticmethod
    def values(values, shape, like):
        import torch

        return torch.tensor(values, dtype=torch.float64).reshape(shape).to(like.device)


class CupyArrays:
    name = "cupy"
    writable_output = True

    @staticmethod
    def prepare(x):
        return x

    @staticmethod
    def device(x):
        return DEVICE_CUDA, int(x.device.id)

    @staticmethod
    def empty_like(x):
        import cupy

        return cupy.empty_like(x)

    @staticmethod
    def empty_row_major(x):
        import cupy

        return cupy.empty(x.shape, dtype=x.dtype)

    @staticmethod
    def contiguous(x):
        import cupy

        return cupy.ascontiguousarray(x)

    @staticmethod
    def copy_into(out, result):
        import cupy

        cupy.copyto(out, result)

    @staticmethod
    def is_writable(x):
        return True

    @staticmethod
    def is_lazy_view(x):
        return False

    @staticmethod
    def finish(result, like):
        return result

    @staticmethod
    def stream(x):
        import cupy

        return cupy.cuda.get_current_stream().ptr

    @staticmethod
    def values(values, shape, like):
        import cupy

        return cupy.asarray(np.asarray(values, dtype=np.float64).reshape(shape))


class DlpackArrays:
    """Any other DLPack producer (JAX, an array-API library) on the CPU: the
    result is computed into numpy and handed back through the library's
    ``from_dlpack`` (or ``asarray``) when it has an array-API namespace."""

    name = "dlpack"
    writable_output = False

    @staticmethod
    def prepare(x):
        device_type, _ = x.__dlpack_device__()
        if int(device_type) != DEVICE_CPU:
            raise ValueError(
                f"{type(x).__module__}.{type(x).__name__} arrays off the CPU are not supported "
                "(polar_express takes torch and CuPy arrays on CUDA)"
            )
        return x

    @staticmethod
    def device(x):
        return tuple(int(v) for v in x.__dlpack_device__())

    @staticmethod
    def empty_like(x):
        return np.empty(x.shape, dtype=np.from_dlpack(x).dtype)

    empty_row_major = empty_like

    @staticmethod
    def contiguous(x):
        return np.ascontiguousarray(np.from_dlpack(x))

    @staticmethod
    def finish(result, like):
        namespace = getattr(like, "__array_namespace__", None)
        if namespace is None:
            return result
        xp = namespace()
        convert = getattr(xp, "from_dlpack", None) or xp.asarray
        return convert(result)

    @staticmethod
    def values(values, shape, like):
        return DlpackArrays.finish(np.asarray(values, dtype=np.float64).reshape(shape), like)


def arrays_for(x):
    """The adapter for x's library; TypeError for an object without DLPack."""
    if isinstance(x, np.ndarray):
        return NumpyArrays
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return TorchArrays
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        return CupyArrays
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        return DlpackArrays
    raise TypeError(
        f"expected an array with DLPack (numpy, torch, CuPy, JAX), not {type(x).__module__}.{type(x).__name__}"
    )


def batch_shape(shape):
    """The shape of per-matrix values of an array of `shape`: () or (B,)."""
    return tuple(shape[:-2])
