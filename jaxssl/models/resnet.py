"""ResNet backbones without a classification head: images -> pooled features.

One `ResNet` module covers the CIFAR variants (3x3 stride-1 stem, no max
pool), the ImageNet variant (7x7/2 stem + 3x3/2 max pool) and `tiny_resnet`,
the small CPU-fast network of the quickstart and the tests (3x3 stride-2
stem, widths 32/64/128, one BasicBlock per stage).

BatchNorm follows torchvision/flax examples (`jaxssl.models.norm`): momentum
0.9 (flax convention: running = 0.9 * running + 0.1 * batch), epsilon 1e-5;
the last BatchNorm of every residual block starts with gamma = 1, or 0 with
`zero_init_residual` (Goyal et al., arXiv:1706.02677). Under `jit`
with a sharded batch the statistics are global already; no `axis_name` is
needed. `bn_groups` > 1 normalises contiguous blocks of the batch on their
own (grouped SyncBatchNorm, official SwAV's process groups).

References:
  He et al., Deep Residual Learning for Image Recognition, arXiv:1512.03385.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.models.conv import Conv
from jaxssl.models.norm import batch_norm as _batch_norm


class BasicBlock(nn.Module):
  """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut.

  Attributes:
    features: output channels.
    strides: stride of the first convolution (and of the projection).
    conv_impl: see `jaxssl.models.conv.Conv`.
    bn_groups: see `jaxssl.models.norm.batch_norm`.
    dtype: compute dtype of the convolutions (`jaxssl.models.conv.Conv`).
    zero_init_residual: the last BatchNorm's scale starts at 0, so the
      block starts as its shortcut (else at 1).
  """

  features: int
  strides: int = 1
  conv_impl: str = "xla"
  bn_groups: int = 1
  dtype: Any = jnp.float32
  zero_init_residual: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    conv = functools.partial(Conv, impl=self.conv_impl, dtype=self.dtype)
    batch_norm = functools.partial(_batch_norm, groups=self.bn_groups)
    s = (self.strides, self.strides)
    y = conv(self.features, (3, 3), s)(x)
    y = nn.relu(batch_norm(train)(y))
    y = conv(self.features, (3, 3))(y)
    y = batch_norm(train, scale_init=_last_scale(self.zero_init_residual))(y)
    if x.shape != y.shape:
      x = conv(self.features, (1, 1), s, name="proj_conv")(x)
      x = batch_norm(train, name="proj_bn")(x)
    return nn.relu(x + y)


class Bottleneck(nn.Module):
  """1x1 -> 3x3 (strided, as ResNet v1.5) -> 1x1 (4x wider) block.

  Attributes:
    features: width of the 3x3 convolution; the block outputs 4x as many.
    strides: stride of the 3x3 convolution (and of the projection).
    conv_impl: see `jaxssl.models.conv.Conv`.
    bn_groups: see `jaxssl.models.norm.batch_norm`.
    dtype: compute dtype of the convolutions (`jaxssl.models.conv.Conv`).
    zero_init_residual: the last BatchNorm's scale starts at 0, so the
      block starts as its shortcut (else at 1).
  """

  features: int
  strides: int = 1
  conv_impl: str = "xla"
  bn_groups: int = 1
  dtype: Any = jnp.float32
  zero_init_residual: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    conv = functools.partial(Conv, impl=self.conv_impl, dtype=self.dtype)
    batch_norm = functools.partial(_batch_norm, groups=self.bn_groups)
    s = (self.strides, self.strides)
    y = conv(self.features, (1, 1))(x)
    y = nn.relu(batch_norm(train)(y))
    y = conv(self.features, (3, 3), s)(y)
    y = nn.relu(batch_norm(train)(y))
    y = conv(4 * self.features, (1, 1))(y)
    y = batch_norm(train, scale_init=_last_scale(self.zero_init_residual))(y)
    if x.shape != y.shape:
      x = conv(4 * self.features, (1, 1), s, name="proj_conv")(x)
      x = batch_norm(train, name="proj_bn")(x)
    return nn.relu(x + y)


def _last_scale(zero: bool):
  return nn.initializers.zeros if zero else nn.initializers.ones


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(nn.Module):
  """ResNet trunk with global average pooling and no classifier.

  Attributes:
    stage_sizes: residual blocks per stage; stages after the first halve the
      resolution.
    widths: block width per stage (Bottleneck outputs 4x this).
    block: "basic" or "bottleneck".
    stem_width: channels of the stem convolution.
    stem_kernel: side of the stem convolution (3 for CIFAR, 7 for ImageNet).
    stem_stride: stride of the stem convolution.
    stem_pool: 3x3/2 max pool after the stem (ImageNet).
    conv_impl: "xla" or "matmul" (see `jaxssl.models.conv`).
    bn_groups: BatchNorm statistics per contiguous block of the batch, G
      blocks (`jaxssl.models.norm.batch_norm`); 1: the whole batch.
    zero_init_residual: each block's last BatchNorm scale starts at 0
      (Goyal et al., arXiv:1706.02677; torchvision's `zero_init_residual`),
      so that every block starts as its shortcut. Off by default, as in
      torchvision: with it the network at init is its stem and its 1x1
      projection shortcuts, a bag of 3x3-pixel features (tiny_resnet, one
      block per stage, has no other path), and on the embedded digits a
      supervised tiny_resnet stays at chance for ~600 steps of batch 128
      while the scales grow (kNN top-1 11.8% after 400 steps; 51.4% with
      the scales at 1).
    remat: rematerialise each residual block in the backward pass
      (`nn.remat`): its activations are recomputed instead of stored; the
      same params and values.
    dtype: compute dtype of every convolution: float32, or bfloat16 for
      mixed precision (bf16 operands, float32 accumulation; parameters,
      BatchNorm statistics and normalisation, residual adds and the pooled
      features stay float32).
    kind: "conv", the backbone kind (`jaxssl.models.backbone`); not a field.
  """

  kind: ClassVar[str] = "conv"

  stage_sizes: Sequence[int]
  widths: Sequence[int] = (64, 128, 256, 512)
  block: str = "basic"
  stem_width: int = 64
  stem_kernel: int = 3
  stem_stride: int = 1
  stem_pool: bool = False
  conv_impl: str = "xla"
  bn_groups: int = 1
  zero_init_residual: bool = False
  remat: bool = False
  dtype: Any = jnp.float32

  @property
  def num_features(self) -> int:
    """Width d of the pooled features."""
    return self.widths[-1] * (4 if self.block == "bottleneck" else 1)

  @nn.compact
  def __call__(self, images: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    """Runs the network.

    Args:
      images: [n, h, w, 3] float images (normalised).
      train: use batch statistics in BatchNorm and update the running ones
        (apply with `mutable=["batch_stats"]`).

    Returns:
      dict with "feats": [n, d] float32 globally average-pooled features.
    """
    if images.ndim != 4:
      raise ValueError(
        f"ResNet expects [n, h, w, c] images, got shape {images.shape}"
      )
    if self.block not in BLOCKS:
      raise ValueError(
        f"ResNet block={self.block!r} is not one of {sorted(BLOCKS)}"
      )
    x = jnp.asarray(images, jnp.float32)
    k, s = self.stem_kernel, self.stem_stride
    x = Conv(
      self.stem_width,
      (k, k),
      (s, s),
      impl=self.conv_impl,
      dtype=self.dtype,
      name="stem_conv",
    )(x)
    x = nn.relu(_batch_norm(train, groups=self.bn_groups, name="stem_bn")(x))
    if self.stem_pool:
      x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    block = BLOCKS[self.block]
    if self.remat:  # `train` (argument 2, after self and x) is static
      block = nn.remat(block, static_argnums=(2,))
    for i, (size, width) in enumerate(zip(self.stage_sizes, self.widths)):
      for j in range(size):
        strides = 2 if i > 0 and j == 0 else 1
        x = block(
          width,
          strides,
          conv_impl=self.conv_impl,
          bn_groups=self.bn_groups,
          dtype=self.dtype,
          zero_init_residual=self.zero_init_residual,
          name=f"stage{i + 1}_block{j + 1}",
        )(x, train)
    return {"feats": jnp.mean(x, axis=(1, 2))}


def tiny_resnet(conv_impl: str = "xla") -> ResNet:
  """Small CPU-fast ResNet: 3x3/2 stem, widths 32/64/128, 3 blocks -> [n, 128].

  About 0.3M params; at 32x32 it sees 16x16, 8x8 and 4x4 feature maps. A
  train step runs at 250-550 images/s (batch 256, 32x32) on the shared 2-core
  CPU, depending on its load; resnet18_cifar at 9-18.
  """
  return ResNet(
    stage_sizes=(1, 1, 1),
    widths=(32, 64, 128),
    stem_width=32,
    stem_stride=2,
    conv_impl=conv_impl,
  )


def resnet18_cifar(conv_impl: str = "xla") -> ResNet:
  """CIFAR ResNet-18 (3x3/1 stem, no max pool) -> [n, 512], 11.2M params."""
  return ResNet(stage_sizes=(2, 2, 2, 2), conv_impl=conv_impl)


def resnet50_cifar(conv_impl: str = "xla") -> ResNet:
  """CIFAR ResNet-50 (3x3/1 stem, no max pool) -> [n, 2048], 23.5M params."""
  return ResNet(
    stage_sizes=(3, 4, 6, 3), block="bottleneck", conv_impl=conv_impl
  )


def resnet50(conv_impl: str = "xla") -> ResNet:
  """ImageNet ResNet-50 (7x7/2 stem + max pool) -> [n, 2048], 23.5M params."""
  return ResNet(
    stage_sizes=(3, 4, 6, 3),
    block="bottleneck",
    stem_kernel=7,
    stem_stride=2,
    stem_pool=True,
    conv_impl=conv_impl,
  )
