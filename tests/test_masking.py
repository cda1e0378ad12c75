"""Tests for jaxssl.masking: BERT's token corruption."""

import jax
import numpy as np
import pytest

from jaxssl import masking


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
