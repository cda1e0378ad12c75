"""Tests for jaxssl.masking: MAE patch layout and masking, BERT corruption."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import masking


def np_mae_patchify(images_nhwc, p):
  """The official MAE patchify, written for NCHW input."""
  imgs = np.transpose(images_nhwc, (0, 3, 1, 2))
  n, c, hh, ww = imgs.shape
  h, w = hh // p, ww // p
  x = imgs.reshape(n, c, h, p, w, p)
  x = np.einsum("nchpwq->nhwpqc", x)
  return x.reshape(n, h * w, p * p * c)


def test_patchify_matches_mae_and_roundtrips():
  rng = np.random.default_rng(0)
  images = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
  got = jax.jit(masking.patchify, static_argnums=1)(images, 4)
  np.testing.assert_array_equal(got, np_mae_patchify(images, 4))
  back = masking.unpatchify(got, 4, 3)
  np.testing.assert_array_equal(back, images.astype(np.float32))
  # Non-square images patchify too (row-major grid).
  rect = rng.normal(size=(1, 4, 8, 2)).astype(np.float32)
  np.testing.assert_array_equal(
    masking.patchify(rect, 2), np_mae_patchify(rect, 2)
  )


def test_patchify_errors():
  with pytest.raises(ValueError, match=r"\(1, 6, 8, 3\).*4"):
    masking.patchify(np.zeros((1, 6, 8, 3)), 4)
  with pytest.raises(ValueError, match=r"`images`.*\(6, 8, 3\)"):
    masking.patchify(np.zeros((6, 8, 3)), 2)
  with pytest.raises(ValueError, match=r"`patches`.*square"):
    masking.unpatchify(np.zeros((1, 3, 12)), 2, 3)


def test_random_masking():
  n, l, ratio = 512, 16, 0.75
  keep, is_masked, restore = jax.jit(
    lambda k: masking.random_masking(k, n, l, ratio=ratio)
  )(jax.random.key(0))
  len_keep = int(l * (1 - ratio))
  assert keep.shape == (n, len_keep) and is_masked.dtype == jnp.bool_
  assert restore.shape == (n, l)
  np.testing.assert_array_equal(is_masked.sum(1), l - len_keep)
  # ids_keep are exactly the visible positions.
  visible = np.zeros((n, l), bool)
  np.put_along_axis(visible, np.asarray(keep), True, axis=1)
  np.testing.assert_array_equal(visible, ~np.asarray(is_masked))
  # MAE's unshuffle: kept tokens + mask tokens, gathered by ids_restore.
  x = np.arange(n * l).reshape(n, l)
  kept = np.take_along_axis(x, np.asarray(keep), 1)
  full = np.concatenate([kept, -np.ones((n, l - len_keep), int)], 1)
  restored = np.take_along_axis(full, np.asarray(restore), 1)
  np.testing.assert_array_equal(restored, np.where(is_masked, -1, x))
  # Every position is masked with probability `ratio`.
  freq = np.asarray(is_masked).mean(0)
  assert np.all(np.abs(freq - ratio) < 5 * np.sqrt(ratio * (1 - ratio) / n))
  # Different keys give different masks.
  _, other, _ = masking.random_masking(jax.random.key(1), n, l, ratio=ratio)
  assert np.any(other != is_masked)
  with pytest.raises(ValueError, match="ratio"):
    masking.random_masking(jax.random.key(0), 2, 4, ratio=1.0)


def test_mask_tokens_proportions():
  n, l, vocab, mask_id = 64, 512, 1000, 999
  rng = np.random.default_rng(0)
  tokens = rng.integers(3, 900, size=(n, l)).astype(np.int32)
  tokens[:, 0] = 1  # [CLS]
  tokens[:, -1] = 2  # [SEP]
  inputs, targets, is_masked = jax.jit(
    lambda k, t: masking.mask_tokens(
      k, t, mask_id=mask_id, vocab_size=vocab, special_ids=(1, 2)
    )
  )(jax.random.key(0), tokens)
  inputs, targets, is_masked = map(np.asarray, (inputs, targets, is_masked))
  np.testing.assert_array_equal(targets, tokens)
  assert not is_masked[:, 0].any() and not is_masked[:, -1].any()
  assert np.all(inputs[~is_masked] == tokens[~is_masked])
  # Selection rate over the eligible positions: 0.15 (5 sigma bounds).
  eligible = n * (l - 2)
  sel = is_masked.sum()
  assert abs(sel / eligible - 0.15) < 5 * np.sqrt(0.15 * 0.85 / eligible)
  # Among the selected: 80% [MASK], 10% random, 10% unchanged.
  masked_in, masked_tok = inputs[is_masked], tokens[is_masked]
  is_mask_token = masked_in == mask_id
  unchanged = masked_in == masked_tok
  random = ~is_mask_token & ~unchanged
  for frac, p in (
    (is_mask_token.mean(), 0.8),
    (random.mean(), 0.1),
    (unchanged.mean(), 0.1),
  ):
    # A random draw equals the original with probability 1/vocab: negligible
    # against the 5 sigma bound.
    assert abs(frac - p) < 5 * np.sqrt(p * (1 - p) / sel) + 1e-3, (frac, p)
  assert masked_in[random].min() >= 0 and masked_in[random].max() < vocab
  # Random replacements cover the vocabulary, not just the input tokens.
  assert masked_in[random].max() >= 900 or random.sum() < 100


def test_mask_tokens_errors():
  with pytest.raises(ValueError, match=r"`tokens`.*integer.*float"):
    masking.mask_tokens(
      jax.random.key(0), np.zeros((2, 3)), mask_id=0, vocab_size=5
    )
