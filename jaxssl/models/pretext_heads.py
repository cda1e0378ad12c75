"""Heads and decoders of the pretext-task methods, and a backbone's map.

- `TileClassifier`: one backbone shared by every tile (patch) of an example,
  the tiles' features concatenated, an MLP classifier on top: Noroozi &
  Favaro's context-free network (jigsaw) and Doersch et al.'s two-patch
  network (relative position).
- `UpDecoder`: transposed-convolution decoder that upsamples a feature map
  (or a feature vector, first projected to a small map) to a target side:
  colorization's per-pixel ab-bin logits, the denoising autoencoder's
  pixels.
- `feature_map`: the last spatial map of a backbone (before global pooling)
  beside its pooled features, for dense prediction from any backbone.

The classifier methods without tiles (rotation, exemplar) use
`models.Encoder(backbone, models.MLP(...))`: the classifier is the
projector and its logits are `z`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.models.heads import MLP
from jaxssl.models.norm import batch_norm


class TileClassifier(nn.Module):
  """Shared backbone per tile -> concatenated features -> MLP logits.

  Attributes:
    backbone: module with `__call__(images, *, train) -> {"feats": ...}`.
    hidden_dims: hidden widths of the classifier MLP (Linear-BN-ReLU).
    num_classes: output logits.
  """

  backbone: nn.Module
  hidden_dims: Sequence[int]
  num_classes: int

  @nn.compact
  def __call__(self, tiles: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    """Classifies the arrangement of `tiles` [n, t, h, w, c].

    All n * t tiles go through the backbone in one call (so BatchNorm
    normalises over every tile of the batch); the features of one example's
    tiles are concatenated in tile order, so the classifier sees which tile
    is where.

    Returns:
      {"feats": [n * t, d] per-tile features (example-major), "logits":
      [n, num_classes]}.
    """
    n, t = tiles.shape[:2]
    feats = self.backbone(tiles.reshape(n * t, *tiles.shape[2:]), train=train)[
      "feats"
    ]
    logits = MLP(self.hidden_dims, self.num_classes, name="head")(
      feats.reshape(n, -1), train=train
    )
    return {"feats": feats, "logits": logits}


class UpDecoder(nn.Module):
  """Upsamples [n, h, w, c] (or [n, d]) by 2 per width, then a 1x1 conv.

  Each width is a 4x4 stride-2 transposed convolution with BatchNorm and
  ReLU (doubling the side); a final 1x1 convolution gives `out_channels`.
  A [n, d] input is first projected by a Linear layer to a
  `start_side` x `start_side` x `widths[0]` map (BatchNorm, ReLU).

  Attributes:
    widths: channels of each upsampling stage (len = number of doublings).
    out_channels: channels of the output (ab bins, or 3 pixel values).
    start_side: side of the map a vector input is projected to.
  """

  widths: Sequence[int]
  out_channels: int
  start_side: int = 4

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """Returns [n, h * 2^k, w * 2^k, out_channels] float32, k = len(widths)."""
    x = jnp.asarray(x, jnp.float32)
    if x.ndim == 2:
      s, c = self.start_side, self.widths[0] if self.widths else 64
      x = nn.Dense(s * s * c, use_bias=False, name="project")(x)
      x = nn.relu(batch_norm(train, name="project_bn")(x))
      x = x.reshape(x.shape[0], s, s, c)
    for i, width in enumerate(self.widths):
      x = nn.ConvTranspose(
        width, (4, 4), (2, 2), padding="SAME", use_bias=False, name=f"up{i}"
      )(x)
      x = nn.relu(batch_norm(train, name=f"up{i}_bn")(x))
    return nn.Conv(self.out_channels, (1, 1), name="out")(x)


def _is_child_call(module: nn.Module, method_name: str) -> bool:
  # Direct children of the backbone (stem, residual blocks, ...), not
  # deeper layers: the last of them to return a 4-D map is the final stage.
  return method_name == "__call__" and len(module.path) == 1


def feature_map(
  backbone: nn.Module, variables, images: jax.Array, *, train: bool
) -> tuple[jax.Array, jax.Array, dict]:
  """A backbone's last spatial map, its pooled features and new statistics.

  Convolutional backbones: the output of the last direct child module that
  returns a 4-D map (for `models.ResNet`, the last residual block; its
  global average is "feats"), read with flax's `capture_intermediates`, so
  the backbone needs no change. ViTs: the patch tokens on their grid.

  Args:
    backbone: a `models` backbone.
    variables: {"params": ..., "batch_stats": ...}.
    images: [n, h, w, c].
    train: BatchNorm in training mode (statistics updated).

  Returns:
    (fmap [n, h', w', d], feats [n, d], batch_stats): batch_stats are the
    updated statistics with `train`, else those passed in.

  Raises:
    ValueError: if the backbone exposes no spatial map.
  """
  mutable = ["intermediates"] + (["batch_stats"] if train else [])
  out, state = backbone.apply(
    variables,
    images,
    train=train,
    mutable=mutable,
    capture_intermediates=_is_child_call,
  )
  stats = state.get("batch_stats", variables.get("batch_stats", {}))
  if "tokens" in out:  # ViT: tokens in row-major patch order
    tokens = out["tokens"]
    side = math.isqrt(tokens.shape[1])
    fmap = tokens.reshape(tokens.shape[0], side, side, tokens.shape[-1])
    return fmap, out["feats"], stats
  maps = [
    v["__call__"][0]
    for v in state["intermediates"].values()
    if isinstance(v, dict)
    and "__call__" in v
    and getattr(v["__call__"][0], "ndim", 0) == 4
  ]
  if not maps:
    raise ValueError(
      f"backbone {type(backbone).__name__} exposes no spatial feature map"
    )
  return maps[-1], out["feats"], stats
