"""Tests for the MAE, masked-LM and next-token losses vs float64 NumPy."""

import functools

import jax
import losses_testing as lt
import numpy as np
import pytest

from jaxssl import losses


def np_mae(pred, target, is_masked, norm_pix):
  """Official MAE forward_loss on already patchified targets."""
  if norm_pix:
    mean = target.mean(-1, keepdims=True)
    var = target.var(-1, keepdims=True, ddof=1)
    target = (target - mean) / (var + 1e-6) ** 0.5
  loss = ((pred - target) ** 2).mean(-1)
  m = is_masked.astype(np.float64)
  return (loss * m).sum() / m.sum()


def _log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def np_masked_lm(logits, targets, is_masked):
  ce = -np.take_along_axis(_log_softmax(logits), targets[..., None], -1)[..., 0]
  return ce[is_masked].mean()


def np_next_token(logits, tokens, valid):
  total, count = 0.0, 0
  log_p = _log_softmax(logits)
  for i in range(tokens.shape[0]):
    for t in range(tokens.shape[1] - 1):
      if valid[i, t + 1]:
        total -= log_p[i, t, tokens[i, t + 1]]
        count += 1
  return total / count


def _mae_data(seed, n=3, l=5, p=4):
  rng = np.random.default_rng(seed)
  is_masked = rng.uniform(size=(n, l)) < 0.6
  is_masked[0, 0] = True
  return rng.normal(size=(n, l, p)), rng.normal(size=(n, l, p)), is_masked


@pytest.mark.parametrize("norm_pix", [True, False])
def test_mae_value_grads(norm_pix):
  pred, target, is_masked = _mae_data(0)
  fn = functools.partial(losses.mae, norm_pix=norm_pix)
  np.testing.assert_allclose(
    jax.jit(fn)(pred, target, is_masked),
    np_mae(pred, target, is_masked, norm_pix),
    rtol=1e-5,
  )
  lt.check_grads_f64(lambda p, t: fn(p, t, is_masked), (pred, target))


def test_mae_no_masked_patch_is_zero_and_bf16():
  pred, target, is_masked = _mae_data(1)
  assert losses.mae(pred, target, np.zeros_like(is_masked)) == 0.0
  lt.assert_bf16_gives_f32(
    lambda p, t: losses.mae(p, t, is_masked),
    (pred, target),
    rtol=0.05,
    atol=0.05,
  )


def _lm_data(seed, n=3, l=6, v=7):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=(n, l, v)) * 2
  tokens = rng.integers(0, v, size=(n, l))
  flags = rng.uniform(size=(n, l)) < 0.5
  flags[0, 1] = True
  return logits, tokens, flags


def test_masked_lm_and_next_token_values_grads():
  logits, tokens, flags = _lm_data(2)
  np.testing.assert_allclose(
    jax.jit(losses.masked_lm)(logits, tokens, flags),
    np_masked_lm(logits, tokens, flags),
    rtol=1e-5,
  )
  np.testing.assert_allclose(
    jax.jit(losses.next_token)(logits, tokens, flags),
    np_next_token(logits, tokens, flags),
    rtol=1e-5,
  )
  lt.check_grads_f64(lambda x: losses.masked_lm(x, tokens, flags), (logits,))
  lt.check_grads_f64(lambda x: losses.next_token(x, tokens, flags), (logits,))


def test_lm_bf16_large_logits_and_errors():
  logits, tokens, flags = _lm_data(3)
  lt.assert_bf16_gives_f32(
    lambda x: losses.masked_lm(x, tokens, flags),
    (logits,),
    rtol=0.05,
    atol=0.05,
  )
  lt.assert_bf16_gives_f32(
    lambda x: losses.next_token(x, tokens, flags),
    (logits,),
    rtol=0.05,
    atol=0.05,
  )
  assert np.isfinite(losses.masked_lm(logits * 1e4, tokens, flags))
  with pytest.raises(ValueError, match=r"`targets`.*\(3, 6\).*\(3, 5\)"):
    losses.masked_lm(logits, tokens[:, :5], flags)
  with pytest.raises(ValueError, match=r"`tokens`.*integer.*float"):
    losses.next_token(logits, tokens.astype(np.float32), flags)
  with pytest.raises(ValueError, match=r"`is_masked`.*\(3, 6\).*\(3,\)"):
    losses.masked_lm(logits, tokens, flags[:, 0])
  with pytest.raises(ValueError, match=r"`pred` and `target`"):
    losses.mae(logits, logits[..., :3], flags)
