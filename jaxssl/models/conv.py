"""A 2-D convolution with a choice of implementation, for CPU experiments.

`Conv` has the parameter layout of `flax.linen.Conv` (`kernel` of shape
[kh, kw, c_in, c_out], optional `bias` [c_out]), so params move freely between
implementations and to/from `nn.Conv`:

- `impl="xla"` (default): `lax.conv_general_dilated`, what `nn.Conv` runs.
- `impl="matmul"`: im2col + one matmul. The kh*kw shifted (strided) windows
  of the padded input are concatenated on the channel axis, giving
  [n, h', w', kh*kw*c_in], which multiplies `kernel.reshape(-1, c_out)`
  directly; the backward of slicing is just padding and adds. (Extracting
  the windows with `lax.conv_general_dilated_patches` instead was 7x slower
  in a train step: its input gradient is an XLA convolution itself.)

Measured on the shared 2-core CPU with jax 0.10.2 (train step, batch 256,
32x32; `python -m jaxssl.bench backbones`), "xla" is as fast as "matmul" on
tiny_resnet (interleaved runs within noise of each other; it compiles ~35%
faster) and ~1.8x faster on resnet18_cifar (17.5 vs 9.5 images/s). Single
layers agree: XLA's convolutions, weight gradients included, ran at 30-70
GFLOP/s against 10-30 for im2col, which pays for writing kh*kw copies of the
input. So every backbone defaults to "xla"; "matmul" stays as a tested,
interchangeable alternative for CPUs or XLA versions where it wins. The big
speed-up of a stride-2 stem (4x fewer pixels in every later layer) is
independent of the implementation.

Padding is symmetric, (k - 1) // 2 on each side, as in PyTorch ResNets (flax
"SAME" pads stride-2 convolutions asymmetrically).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

IMPLS = ("xla", "matmul", "auto")

# impl="auto": "matmul" for layers whose output has at most this many pixels
# (h' * w'), "xla" above. See the module docstring for the measurements.
AUTO_MATMUL_MAX_PIXELS = 16 * 16

# He init over fan_out, as torchvision ResNets (kaiming_normal_, fan_out).
he_normal_fan_out = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def _pads(kernel_size: Sequence[int]) -> tuple[tuple[int, int], ...]:
  return tuple(((k - 1) // 2, (k - 1) // 2) for k in kernel_size)


def im2col(
  x: jax.Array,
  kernel_size: Sequence[int],
  strides: Sequence[int],
  padding: Sequence[tuple[int, int]],
) -> jax.Array:
  """Extracts conv windows by slicing: [n, h, w, c] -> [n, h', w', kh*kw*c].

  The last axis is ordered (kh, kw, c), matching `kernel.reshape(-1, c_out)`
  for a kernel of shape [kh, kw, c, c_out].
  """
  (kh, kw), (sh, sw) = kernel_size, strides
  x = jnp.pad(x, ((0, 0), tuple(padding[0]), tuple(padding[1]), (0, 0)))
  h_out = (x.shape[1] - kh) // sh + 1
  w_out = (x.shape[2] - kw) // sw + 1
  cols = [
    x[
      :, i : i + sh * (h_out - 1) + 1 : sh, j : j + sw * (w_out - 1) + 1 : sw, :
    ]
    for i in range(kh)
    for j in range(kw)
  ]
  return cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)


def _matmul_conv(x, kernel, strides, padding):
  """im2col + one matmul, float32 accumulation: [n, h', w', c_out] float32."""
  kh, kw, c_in, c_out = kernel.shape
  cols = im2col(x, (kh, kw), strides, padding)
  return jnp.dot(
    cols,
    kernel.reshape(kh * kw * c_in, c_out),
    preferred_element_type=jnp.float32,
  )


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _matmul_conv_lowp(x, kernel, strides, padding):
  """`_matmul_conv` of low-precision (bf16) operands, f32 out, whose
  backward also multiplies low-precision operands (the cotangent is cast to
  the operands' dtype) with float32 accumulation.

  Autodiff of `jnp.dot(..., preferred_element_type=f32)` would instead
  upcast the bf16 operand and run both backward matmuls in float32.
  """
  return _matmul_conv(x, kernel, strides, padding)


def _matmul_conv_lowp_fwd(x, kernel, strides, padding):
  kh, kw, c_in, c_out = kernel.shape
  cols = im2col(x, (kh, kw), strides, padding)
  y = jnp.dot(
    cols,
    kernel.reshape(kh * kw * c_in, c_out),
    preferred_element_type=jnp.float32,
  )
  return y, (x, cols, kernel)


def _matmul_conv_lowp_bwd(strides, padding, res, g):
  x, cols, kernel = res
  kh, kw, c_in, c_out = kernel.shape
  g = g.astype(cols.dtype)
  f32 = jnp.float32
  d_kernel = jnp.einsum(
    "nhwp,nhwo->po", cols, g, preferred_element_type=f32
  ).reshape(kernel.shape)
  same = [(k - 1) // 2 for k in (kh, kw)]
  if tuple(strides) == (1, 1) and [tuple(p) for p in padding] == [
    (q, q) for q in same
  ]:
    # Stride 1, symmetric "same" padding: the input gradient is the same
    # convolution of the cotangent with the flipped, transposed kernel, so
    # it is one more im2col matmul (no [.., kh*kw*c_in] float32 buffer).
    flipped = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)
    dx = jnp.dot(
      im2col(g, (kh, kw), strides, padding),
      flipped.reshape(kh * kw * c_out, c_in),
      preferred_element_type=f32,
    )
  else:
    d_cols = jnp.dot(
      g, kernel.reshape(kh * kw * c_in, c_out).T, preferred_element_type=f32
    )
    _, vjp = jax.vjp(
      lambda x: im2col(x, (kh, kw), strides, padding), x.astype(f32)
    )
    (dx,) = vjp(d_cols)
  return dx.astype(x.dtype), d_kernel.astype(kernel.dtype)


_matmul_conv_lowp.defvjp(_matmul_conv_lowp_fwd, _matmul_conv_lowp_bwd)


class Conv(nn.Module):
  """2-D convolution over NHWC inputs with selectable implementation.

  Attributes:
    features: output channels.
    kernel_size: (kh, kw).
    strides: (sh, sw).
    use_bias: add a learned bias (off before BatchNorm).
    impl: "xla", "matmul" or "auto" (see module docstring); all give the
      same outputs and gradients up to float rounding.
    kernel_init: initializer of the [kh, kw, c_in, c_out] kernel.
    dtype: compute dtype of the inputs and kernel (the kernel parameter
      stays float32); float32 accumulation and output either way. With
      bfloat16 and the "matmul" form, the backward matmuls also take bf16
      operands (`_matmul_conv_lowp`).
  """

  features: int
  kernel_size: Sequence[int] = (3, 3)
  strides: Sequence[int] = (1, 1)
  use_bias: bool = False
  impl: str = "xla"
  kernel_init: Callable[..., Any] = he_normal_fan_out
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Applies the convolution.

    Args:
      x: [n, h, w, c_in] float array.

    Returns:
      [n, h', w', features] float32, h' = (h + 2 * ((kh - 1) // 2) - kh) //
      sh + 1, and likewise w'.
    """
    if self.impl not in IMPLS:
      raise ValueError(f"Conv impl={self.impl!r} is not one of {IMPLS}")
    kh, kw = self.kernel_size
    c_in = x.shape[-1]
    kernel = self.param(
      "kernel", self.kernel_init, (kh, kw, c_in, self.features), jnp.float32
    )
    padding = _pads(self.kernel_size)
    strides = tuple(self.strides)
    impl = self.impl
    if impl == "auto":
      (sh, sw), (h, w) = strides, x.shape[1:3]
      pixels = ((h - 1) // sh + 1) * ((w - 1) // sw + 1)
      impl = "matmul" if pixels <= AUTO_MATMUL_MAX_PIXELS else "xla"
    dtype = jnp.dtype(self.dtype)
    if dtype == jnp.float32:
      # The float32 path, unchanged (bit for bit) by the dtype policy.
      x = jnp.asarray(x, jnp.float32)
      if impl == "xla":
        y = jax.lax.conv_general_dilated(
          x,
          kernel,
          strides,
          padding,
          dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
      else:
        cols = im2col(x, self.kernel_size, strides, padding)
        y = cols @ kernel.reshape(kh * kw * c_in, self.features)
    else:
      x, k = jnp.asarray(x, dtype), kernel.astype(dtype)
      if impl == "xla":
        y = jax.lax.conv_general_dilated(
          x,
          k,
          strides,
          padding,
          dimension_numbers=("NHWC", "HWIO", "NHWC"),
          preferred_element_type=jnp.float32,
        )
      else:
        y = _matmul_conv_lowp(x, k, strides, padding)
    if self.use_bias:
      y = y + self.param(
        "bias", nn.initializers.zeros, (self.features,), jnp.float32
      )
    return y
