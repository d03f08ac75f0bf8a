"""Complex functions: checked through the real and imaginary parts of their inputs and outputs.

gradcheck run sample_functions/complex_functions.py:square --x '1+2j,3-1j'
gradcheck run sample_functions/complex_functions.py:spectrum --x 1,2,0.5,-1 --dtype complex128
gradcheck run sample_functions/complex_functions.py:phase --x 0.1,0.7,2
gradcheck run sample_functions/complex_functions.py:wrong_square --x '1+2j,3-1j,0.5j'   # exit 1

The Jacobian is that of the real coordinates (``z.real``, ``z.imag`` -> ``out.real``, ``out.imag``), which
is what ``torch.autograd.gradcheck`` compares for complex functions; the complex step is never used.
"""

import torch


def square(z: torch.Tensor) -> torch.Tensor:
    """``z * z``: holomorphic."""
    return z * z


def spectrum(z: torch.Tensor) -> torch.Tensor:
    """``torch.fft.fft``: complex in, complex out."""
    return torch.fft.fft(z)


def phase(x: torch.Tensor) -> torch.Tensor:
    """``torch.polar(1, x)``: real in, complex out."""
    return torch.polar(torch.ones_like(x), x)


class _WrongSquare(torch.autograd.Function):
    """``z * z`` whose backward is 1% off at element 1."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z)
        return z * z

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (z,) = ctx.saved_tensors
        scale = torch.ones(z.shape, dtype=z.real.dtype)
        scale[1] = 1.01
        return grad * (2 * z).conj() * scale


def wrong_square(z: torch.Tensor) -> torch.Tensor:
    """``z * z`` through a backward that is 1% wrong at ``z[1]``."""
    return _WrongSquare.apply(z)
