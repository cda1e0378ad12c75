"""Vision Transformer encoders (ViT-Ti/S/B) returning the cls token as features.

Pre-norm blocks (LayerNorm -> attention -> residual, LayerNorm -> MLP ->
residual), a cls token, learned or fixed 2-D sin-cos position embeddings,
and a final LayerNorm. There is no classification head. `keep_idx` runs the
encoder on a subset of patch tokens, as MAE's encoder does on the visible
patches.

The patch embedding is a Dense over `jaxssl.models.patches.patchify` patches
(the layout of MAE's targets), i.e. a stride-p convolution written as a matmul;
its kernel is a [p, p, 3, d] conv kernel reshaped to [p * p * 3, d].

References:
  Dosovitskiy et al., An Image is Worth 16x16 Words, arXiv:2010.11929.
  He et al., Masked Autoencoders Are Scalable Vision Learners,
  arXiv:2111.06377 (sin-cos embeddings, encoding visible patches only).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxssl.models import patches

POS_EMBEDS = ("learned", "sincos")
# "cls": the cls token (ViT, DINO, MAE's linear probe); "mean": the mean of
# the patch tokens (big_vision's "gap", MAE's fine-tuning `global_pool`).
POOLS = ("cls", "mean")

_dense = functools.partial(
  nn.Dense, kernel_init=nn.initializers.xavier_uniform()
)
_layer_norm = functools.partial(nn.LayerNorm, epsilon=1e-6)


def sincos_pos_embed(grid_h: int, grid_w: int, dim: int) -> np.ndarray:
  """Fixed 2-D sin-cos position embeddings (MAE's `get_2d_sincos_pos_embed`).

  Args:
    grid_h, grid_w: patch grid size.
    dim: embedding width, a multiple of 4.

  Returns:
    [grid_h * grid_w, dim] float32, row-major over the grid; the first half
    of the channels encodes the column, the second half the row (MAE's
    order: its meshgrid puts the w coordinate first).
  """
  if dim % 4:
    raise ValueError(
      f"sin-cos position embedding needs dim % 4 == 0, got {dim}"
    )
  omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4))
  rows, cols = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")

  def embed(pos):
    angles = pos.reshape(-1)[:, None] * omega[None]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

  return np.concatenate([embed(cols), embed(rows)], 1).astype(np.float32)


class MultiHeadSelfAttention(nn.Module):
  """Self-attention with a fused qkv projection.

  Shared by the ViT and the text Transformers (`jaxssl.models.text`), which
  add a mask (padding, causality), attention dropout and their own init.

  Attributes:
    num_heads: heads; the width must be divisible by it.
    dropout_rate: dropout on the attention probabilities in training
      (BERT's and GPT-2's `attention_probs_dropout_prob` / `attn_pdrop`).
    kernel_init: init of the qkv kernel (and of `proj` unless
      `proj_kernel_init` is given); biases start at zero.
    proj_kernel_init: init of the output projection's kernel (GPT-2 scales
      the residual projections by 1 / sqrt(2 * depth)); None: `kernel_init`.
  """

  num_heads: int
  dropout_rate: float = 0.0
  kernel_init: Callable = nn.initializers.xavier_uniform()
  proj_kernel_init: Callable | None = None

  @nn.compact
  def __call__(
    self,
    x: jax.Array,
    *,
    can_attend: jax.Array | None = None,
    deterministic: bool = True,
  ) -> jax.Array:
    """[n, l, d] -> [n, l, d].

    Args:
      x: [n, l, d] tokens.
      can_attend: optional bool, broadcastable to [n, heads, l, l]: True
        where query i may attend to key j. Every row needs a True entry.
      deterministic: no attention dropout (inference); False needs a
        "dropout" rng when `dropout_rate > 0`.
    """
    n, l, d = x.shape
    if d % self.num_heads:
      raise ValueError(
        f"width {d} is not divisible by num_heads={self.num_heads}"
      )
    qkv = nn.Dense(3 * d, kernel_init=self.kernel_init, name="qkv")(x)
    q, k, v = jnp.split(qkv.reshape(n, l, 3, self.num_heads, -1), 3, axis=2)
    q, k, v = q[:, :, 0], k[:, :, 0], v[:, :, 0]
    if self.dropout_rate > 0 and not deterministic:
      # Dropout acts on the probabilities, which dot_product_attention
      # does not expose: the same softmax(q k^T / sqrt(d_h)) written out.
      logits = jnp.einsum("nqhc,nkhc->nhqk", q, k) / np.sqrt(q.shape[-1])
      if can_attend is not None:
        logits = jnp.where(can_attend, logits, jnp.finfo(logits.dtype).min)
      probs = nn.Dropout(self.dropout_rate)(
        jax.nn.softmax(logits, axis=-1), deterministic=False
      )
      y = jnp.einsum("nhqk,nkhc->nqhc", probs, v)
    else:
      y = jax.nn.dot_product_attention(q, k, v, mask=can_attend)
    proj_init = self.proj_kernel_init or self.kernel_init
    return nn.Dense(d, kernel_init=proj_init, name="proj")(y.reshape(n, l, d))


class Block(nn.Module):
  """Pre-norm transformer block.

  Attributes:
    num_heads: attention heads.
    mlp_ratio: MLP hidden width over model width.
  """

  num_heads: int
  mlp_ratio: int = 4

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    d = x.shape[-1]
    x = x + MultiHeadSelfAttention(self.num_heads, name="attn")(
      _layer_norm(name="norm1")(x)
    )
    y = _layer_norm(name="norm2")(x)
    y = _dense(self.mlp_ratio * d, name="mlp_fc1")(y)
    y = _dense(d, name="mlp_fc2")(nn.gelu(y, approximate=False))
    return x + y


class ViT(nn.Module):
  """ViT encoder: patches -> tokens -> blocks -> final LayerNorm.

  Attributes:
    width: token width d.
    depth: number of blocks.
    num_heads: attention heads.
    patch_size: side p of the square patches; image sides must divide by it
      (ValueError otherwise).
    mlp_ratio: MLP hidden width over d.
    pos_embed: "learned" (init N(0, 0.02)) or "sincos" (fixed, not a param).
    pool: what "feats" is: "cls", the cls token, or "mean", the mean of the
      patch tokens (both after the final LayerNorm).
    remat: rematerialise each block in the backward pass (`nn.remat`): its
      activations are recomputed instead of stored; the same params and
      values.
    kind: "vit", the backbone kind (`jaxssl.models.backbone`); not a field.
  """

  kind: ClassVar[str] = "vit"

  width: int
  depth: int
  num_heads: int
  patch_size: int = 16
  mlp_ratio: int = 4
  pos_embed: str = "learned"
  pool: str = "cls"
  remat: bool = False

  @property
  def num_features(self) -> int:
    """Width d of the features."""
    return self.width

  @nn.compact
  def __call__(
    self, images: jax.Array, *, train: bool, keep_idx: jax.Array | None = None
  ) -> dict[str, jax.Array]:
    """Encodes images, or only the patch tokens in `keep_idx`.

    Args:
      images: [n, h, w, 3] float images; h and w divisible by patch_size.
      train: unused (no dropout or BatchNorm); kept for a uniform API.
      keep_idx: optional [n, l_keep] int indices into the l = (h/p)(w/p)
        patch tokens (row-major, as `jaxssl.models.patches.patchify`), e.g.
        the `ids_keep` of `jaxssl.methods.mae.random_masking`; only these
        tokens, with their position embeddings, enter the blocks (MAE's
        encoder).

    Returns:
      dict with "feats": [n, d] the cls token (`pool="cls"`) or the mean
      of the (kept) patch tokens (`pool="mean"`) after the final LayerNorm, and
      "tokens": [n, l_keep or l, d] the patch tokens after it, in `keep_idx`
      order.
    """
    del train
    if self.pos_embed not in POS_EMBEDS:
      raise ValueError(
        f"ViT pos_embed={self.pos_embed!r} is not one of {POS_EMBEDS}"
      )
    if self.pool not in POOLS:
      raise ValueError(f"ViT pool={self.pool!r} is not one of {POOLS}")
    n, h, w, _ = images.shape
    # One patch layout for the ViT input, MAE's targets and masks.
    x = patches.patchify(jnp.asarray(images, jnp.float32), self.patch_size)
    x = _dense(self.width, name="patch_embed")(x)
    grid = (h // self.patch_size, w // self.patch_size)
    if self.pos_embed == "learned":
      pos = self.param(
        "pos_embed",
        nn.initializers.normal(0.02),
        (1, grid[0] * grid[1], self.width),
        jnp.float32,
      )
    else:
      pos = jnp.asarray(sincos_pos_embed(*grid, self.width))[None]
    x = x + pos
    if keep_idx is not None:
      if keep_idx.ndim != 2 or keep_idx.shape[0] != n:
        raise ValueError(
          f"keep_idx must be [n={n}, l_keep], got shape {keep_idx.shape}"
        )
      x = jnp.take_along_axis(x, keep_idx[..., None], axis=1)
    cls = self.param(
      "cls_token", nn.initializers.normal(0.02), (1, 1, self.width), jnp.float32
    )
    x = jnp.concatenate([jnp.broadcast_to(cls, (n, 1, self.width)), x], 1)
    block = nn.remat(Block) if self.remat else Block
    for i in range(self.depth):
      x = block(self.num_heads, self.mlp_ratio, name=f"block{i}")(x)
    x = _layer_norm(name="norm")(x)
    tokens = x[:, 1:]
    feats = x[:, 0] if self.pool == "cls" else tokens.mean(axis=1)
    return {"feats": feats, "tokens": tokens}


def vit_tiny(
  patch_size: int = 16, pos_embed: str = "learned", pool: str = "cls"
) -> ViT:
  """ViT-Ti: d 192, depth 12, 3 heads (5.5M params at 224 / patch 16)."""
  return ViT(192, 12, 3, patch_size=patch_size, pos_embed=pos_embed, pool=pool)


def vit_small(
  patch_size: int = 16, pos_embed: str = "learned", pool: str = "cls"
) -> ViT:
  """ViT-S: d 384, depth 12, 6 heads (21.7M params at 224 / patch 16)."""
  return ViT(384, 12, 6, patch_size=patch_size, pos_embed=pos_embed, pool=pool)


def vit_base(
  patch_size: int = 16, pos_embed: str = "learned", pool: str = "cls"
) -> ViT:
  """ViT-B: d 768, depth 12, 12 heads (85.8M params at 224 / patch 16)."""
  return ViT(768, 12, 12, patch_size=patch_size, pos_embed=pos_embed, pool=pool)
