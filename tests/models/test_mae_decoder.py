"""Tests for jaxssl.models.mae_decoder against a hand-written numpy decoder."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl.methods import mae
from jaxssl.models import mae_decoder, vit


def _inputs(n=3, l=16, ratio=0.75, d_enc=8, seed=0):
  k_mask, k_cls, k_tok = jax.random.split(jax.random.key(seed), 3)
  ids_keep, is_masked, ids_restore = mae.random_masking(
    k_mask, n, l, ratio=ratio
  )
  cls = jax.random.normal(k_cls, (n, d_enc))
  tokens = jax.random.normal(k_tok, (n, ids_keep.shape[1], d_enc))
  return cls, tokens, ids_keep, is_masked, ids_restore


def _layer_norm(x, scale, bias, eps=1e-6):
  mu = x.mean(-1, keepdims=True)
  var = x.var(-1, keepdims=True)
  return (x - mu) / np.sqrt(var + eps) * scale + bias


def test_output_shape_params_and_fixed_position_embedding():
  patch = 4
  decoder = mae_decoder.MAEDecoder(
    width=16, depth=2, num_heads=2, patch_dim=patch * patch * 3
  )
  cls, tokens, _, _, ids_restore = _inputs(n=3, l=64)
  out, variables = jax.jit(decoder.init_with_output)(
    jax.random.key(1), cls, tokens, ids_restore
  )
  assert out.shape == (3, 64, patch * patch * 3)
  assert out.dtype == jnp.float32
  assert np.isfinite(np.asarray(out)).all()
  params = variables["params"]
  # Sin-cos position embeddings are constants, the mask token is learned.
  assert set(params) == {
    "embed",
    "mask_token",
    "block0",
    "block1",
    "norm",
    "pred",
  }
  assert params["mask_token"].shape == (1, 1, 16)


def test_unshuffle_and_mask_tokens_match_numpy_reference():
  """With no blocks each output depends on its own token only, so the
  decoder is checked position by position against numpy: visible position
  ids_keep[b, i] gets embed(tokens[b, i]), every hidden one the mask token,
  plus the sin-cos embedding of that position."""
  n, l, width, pdim = 3, 16, 12, 5
  decoder = mae_decoder.MAEDecoder(
    width=width, depth=0, num_heads=3, patch_dim=pdim
  )
  cls, tokens, ids_keep, is_masked, ids_restore = _inputs(n=n, l=l)
  variables = decoder.init(jax.random.key(2), cls, tokens, ids_restore)
  # Random (not init) values for the zero-initialised biases and norm.
  leaves, tree = jax.tree.flatten(variables)
  keys = jax.random.split(jax.random.key(3), len(leaves))
  variables = jax.tree.unflatten(
    tree, [jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)]
  )
  out = np.asarray(decoder.apply(variables, cls, tokens, ids_restore))

  p = jax.tree.map(np.asarray, variables["params"])
  pos = vit.sincos_pos_embed(4, 4, width)
  ref = np.zeros((n, l, pdim))
  tokens, ids_keep = np.asarray(tokens), np.asarray(ids_keep)
  for b in range(n):
    x = np.tile(p["mask_token"][0], (l, 1))
    for i, j in enumerate(ids_keep[b]):
      x[j] = tokens[b, i] @ p["embed"]["kernel"] + p["embed"]["bias"]
    x = _layer_norm(x + pos, p["norm"]["scale"], p["norm"]["bias"])
    ref[b] = x @ p["pred"]["kernel"] + p["pred"]["bias"]
  np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
  # Hidden positions differ only through their position embedding.
  assert int(np.asarray(is_masked).sum()) == n * (l - 4)


def test_cls_token_reaches_patches_through_attention():
  decoder = mae_decoder.MAEDecoder(width=8, depth=1, num_heads=2, patch_dim=3)
  cls, tokens, _, _, ids_restore = _inputs()
  variables = decoder.init(jax.random.key(0), cls, tokens, ids_restore)
  a = decoder.apply(variables, cls, tokens, ids_restore)
  b = decoder.apply(variables, cls + 1.0, tokens, ids_restore)
  assert not np.allclose(a, b)


def test_bad_grid_raises():
  decoder = mae_decoder.MAEDecoder(width=8, depth=0, num_heads=2, patch_dim=3)
  cls, tokens, _, _, ids_restore = _inputs(l=16)
  with pytest.raises(ValueError, match="grid"):
    decoder.init(jax.random.key(0), cls, tokens, ids_restore, (2, 4))
  # A non-square grid given explicitly works.
  out, _ = decoder.init_with_output(
    jax.random.key(0), cls, tokens, ids_restore, (2, 8)
  )
  assert out.shape == (3, 16, 3)
