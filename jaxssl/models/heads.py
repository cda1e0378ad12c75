"""Projection/prediction heads and the backbone + projector `Encoder`.

`MLP` is the Linear-BN-ReLU ... Linear head of SimCLR, BYOL, SimSiam and
MoCo v3; `CosineClassifier` the normalised classifier of instance
classification (Exemplar with `method.temperature`); `Encoder` chains a
backbone and an optional projector and returns the dict the methods
consume.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.models.norm import batch_norm


class MLP(nn.Module):
  """Linear(-BN)-ReLU for each hidden width, then a final Linear.

  Linear layers followed by BatchNorm have no bias (BN's beta replaces it).

  Attributes:
    hidden_dims: widths of the hidden layers; () gives a single Linear.
    out_dim: output width.
    use_bn: BatchNorm after each hidden Linear.
    last_bn: BatchNorm without affine parameters on the output (SimSiam's
      and MoCo v3's projector).
    bn_groups: BatchNorm statistics per contiguous block of the batch
      (`jaxssl.models.norm.batch_norm`); 1: the whole batch.
    dtype: compute dtype of the Linear layers: float32, or bfloat16 (bf16
      operands, float32 accumulation and output; float32 kernels, biases and
      BatchNorm).
  """

  hidden_dims: Sequence[int]
  out_dim: int
  use_bn: bool = True
  last_bn: bool = False
  bn_groups: int = 1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """Applies the head.

    Args:
      x: [n, d] features.
      train: BatchNorm uses batch statistics and updates running ones.

    Returns:
      [n, out_dim] float32.
    """
    x = jnp.asarray(x, jnp.float32)
    dense = nn.Dense
    if jnp.dtype(self.dtype) != jnp.float32:
      dense = functools.partial(
        nn.Dense,
        dtype=self.dtype,
        param_dtype=jnp.float32,
        dot_general=functools.partial(
          jax.lax.dot_general, preferred_element_type=jnp.float32
        ),
      )
    for i, width in enumerate(self.hidden_dims):
      x = dense(width, use_bias=not self.use_bn, name=f"dense{i}")(x)
      if self.use_bn:
        x = batch_norm(train, groups=self.bn_groups, name=f"bn{i}")(x)
      x = nn.relu(x)
    i = len(self.hidden_dims)
    x = dense(self.out_dim, use_bias=not self.last_bn, name=f"dense{i}")(x)
    if self.last_bn:
      x = batch_norm(
        train,
        groups=self.bn_groups,
        use_bias=False,
        use_scale=False,
        name=f"bn{i}",
      )(x)
    return jnp.asarray(x, jnp.float32)


class CosineClassifier(nn.Module):
  """Cosine logits over classes: cos(embedding, class weight) / temperature.

  The features (through an MLP when `hidden_dims` is not empty) and one
  weight vector per class are L2-normalised, so every logit lies in
  [-1/t, 1/t]: the weight-normalised softmax of NormFace (Wang et al.
  2017, arXiv:1704.06369) and of parametric instance classification (PIC,
  Cao et al. 2020, arXiv:2006.14618: a 2-layer MLP to 128-d, t = 0.2), with
  which a classifier over one class per training image learns where the
  plain linear softmax stalls at chance.

  Attributes:
    hidden_dims: hidden widths of the MLP before the embedding; () uses the
      features themselves as the embedding.
    embed_dim: the MLP's output width (ignored without hidden layers).
    num_classes: number of classes.
    temperature: t > 0.
  """

  hidden_dims: Sequence[int]
  embed_dim: int
  num_classes: int
  temperature: float

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """[n, d] features -> [n, num_classes] float32 logits."""
    x = jnp.asarray(x, jnp.float32)
    if self.hidden_dims:
      x = MLP(self.hidden_dims, self.embed_dim, name="mlp")(x, train=train)
    x = x * jax.lax.rsqrt(jnp.sum(x * x, -1, keepdims=True) + 1e-12)
    # Dense's init (norm ~1 per class): an Adam step of lr then turns a
    # class weight by ~lr * sqrt(d) radians, as it moves a Dense kernel.
    w = self.param(
      "classes",
      nn.initializers.lecun_normal(),
      (x.shape[-1], self.num_classes),
      jnp.float32,
    )
    w = w * jax.lax.rsqrt(jnp.sum(w * w, 0, keepdims=True) + 1e-12)
    return (x @ w) / self.temperature


class Encoder(nn.Module):
  """A backbone followed by an optional projector.

  Attributes:
    backbone: module with `__call__(images, *, train) -> dict(feats=...)`.
    projector: head applied to the features, or None.
  """

  backbone: nn.Module
  projector: nn.Module | None = None

  @nn.compact
  def __call__(self, images: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    """Encodes images.

    Args:
      images: [n, h, w, 3] float images.
      train: training mode for BatchNorm.

    Returns:
      The backbone's dict ("feats": [n, d], plus e.g. ViT "tokens") and,
      when there is a projector, "z": [n, proj_dim].
    """
    out = dict(self.backbone(images, train=train))
    if self.projector is not None:
      out["z"] = self.projector(out["feats"], train=train)
    return out
