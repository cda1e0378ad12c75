"""MAE's lightweight decoder: mask tokens, unshuffle, blocks, pixel head.

The encoder sees only the visible patches; the decoder embeds its tokens to
the decoder width, appends one shared learned mask token per hidden patch,
puts every token back in patch order with `ids_restore`, adds fixed 2-D
sin-cos position embeddings, runs pre-norm transformer blocks and predicts
the `p * p * 3` pixel values of every patch (in `jaxssl.models.patches.patchify`
order). The cls token goes through the decoder (with a zero position
embedding) and is dropped from the output, as in the official code.

Defaults of the paper (Sec. 3, Table 1): width 512, 8 blocks, 16 heads, MLP
ratio 4, mask token initialised N(0, 0.02), Linear layers xavier-uniform.

References:
  He et al., Masked Autoencoders Are Scalable Vision Learners, CVPR 2022,
  arXiv:2111.06377; official code facebookresearch/mae `models_mae.py`
  (`forward_decoder`).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.models import vit

_dense = functools.partial(
  nn.Dense, kernel_init=nn.initializers.xavier_uniform()
)


class MAEDecoder(nn.Module):
  """Predicts every patch's pixels from the encoded visible patches.

  Attributes:
    width: decoder token width (`config.method.decoder_dim`).
    depth: transformer blocks (`config.method.decoder_depth`).
    num_heads: attention heads (`config.method.decoder_heads`).
    patch_dim: values predicted per patch, p * p * 3.
    mlp_ratio: MLP hidden width over `width`.
    remat: rematerialise each block in the backward pass (`nn.remat`).
  """

  width: int = 512
  depth: int = 8
  num_heads: int = 16
  patch_dim: int = 16 * 16 * 3
  mlp_ratio: int = 4
  remat: bool = False

  @nn.compact
  def __call__(
    self,
    cls: jax.Array,
    tokens: jax.Array,
    ids_restore: jax.Array,
    grid: tuple[int, int] | None = None,
  ) -> jax.Array:
    """Decodes.

    Args:
      cls: [n, d_enc] the encoder's cls token (after its final LayerNorm).
      tokens: [n, l_keep, d_enc] the encoder's visible patch tokens, in
        `ids_keep` order (the first `l_keep` entries of the shuffle).
      ids_restore: [n, l] from `jaxssl.methods.mae.random_masking`.
      grid: (grid_h, grid_w) patch grid with grid_h * grid_w = l; default a
        square grid.

    Returns:
      [n, l, patch_dim] float32 pixel predictions, row-major patch order.
    """
    n, l_keep, _ = tokens.shape
    l = ids_restore.shape[1]
    if ids_restore.shape[0] != n or l_keep > l:
      raise ValueError(
        f"ids_restore {ids_restore.shape} does not fit tokens {tokens.shape}"
      )
    if grid is None:
      side = round(l**0.5)
      grid = (side, side)
    if grid[0] * grid[1] != l:
      raise ValueError(f"grid {grid} does not hold l={l} patches")
    embed = _dense(self.width, name="embed")
    x = embed(jnp.asarray(tokens, jnp.float32))
    c = embed(jnp.asarray(cls, jnp.float32))[:, None]
    mask_token = self.param(
      "mask_token",
      nn.initializers.normal(0.02),
      (1, 1, self.width),
      jnp.float32,
    )
    x = jnp.concatenate(
      [x, jnp.broadcast_to(mask_token, (n, l - l_keep, self.width))], 1
    )
    x = jnp.take_along_axis(x, ids_restore[..., None], axis=1)  # unshuffle
    x = x + jnp.asarray(vit.sincos_pos_embed(*grid, self.width))[None]
    x = jnp.concatenate([c, x], 1)  # cls: zero position embedding
    block = nn.remat(vit.Block) if self.remat else vit.Block
    for i in range(self.depth):
      x = block(self.num_heads, self.mlp_ratio, name=f"block{i}")(x)
    x = nn.LayerNorm(epsilon=1e-6, name="norm")(x)
    return _dense(self.patch_dim, name="pred")(x[:, 1:])
