"""Tests for SwAV's Sinkhorn-Knopp and swapped prediction vs NumPy."""

import functools

import jax
import jax.numpy as jnp
import losses_testing as lt
import numpy as np
import pytest

from jaxssl import losses


def np_sinkhorn(scores, epsilon, iterations):
  """SwAV's distributed_sinkhorn, one process, float64."""
  q = np.exp(scores.astype(np.float64) / epsilon).T  # [k, B]
  b, k = q.shape[1], q.shape[0]
  q /= q.sum()
  for _ in range(iterations):
    q /= q.sum(axis=1, keepdims=True)
    q /= k
    q /= q.sum(axis=0, keepdims=True)
    q /= b
  return (q * b).T


def np_swav(high, low, temperature, epsilon, iterations):
  views = np.concatenate([high, low])
  v = len(views)
  loss = 0.0
  for a in range(len(high)):
    q = np_sinkhorn(high[a], epsilon, iterations)
    sub = 0.0
    for b in range(v):
      if b == a:
        continue
      x = views[b] / temperature
      log_p = x - np.log(np.sum(np.exp(x), axis=1, keepdims=True))
      sub -= np.mean(np.sum(q * log_p, axis=1))
    loss += sub / (v - 1)
  return loss / len(high)


@pytest.mark.parametrize("epsilon,iterations", [(0.05, 3), (0.5, 1), (0.1, 10)])
def test_sinkhorn_value(epsilon, iterations):
  scores = np.random.default_rng(0).uniform(-1, 1, size=(6, 4))
  got = jax.jit(
    functools.partial(losses.sinkhorn, epsilon=epsilon, iterations=iterations)
  )(scores)
  np.testing.assert_allclose(
    got, np_sinkhorn(scores, epsilon, iterations), rtol=2e-5, atol=1e-6
  )
  np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


def test_sinkhorn_large_scores_stay_finite():
  scores = np.random.default_rng(1).uniform(-1, 1, size=(6, 4)) * 50
  codes = losses.sinkhorn(scores, epsilon=0.01)
  assert np.all(np.isfinite(codes))
  np.testing.assert_allclose(codes.sum(axis=1), 1.0, rtol=1e-5)


def test_sinkhorn_grads():
  scores = np.random.default_rng(2).uniform(-1, 1, size=(4, 3))
  lt.check_grads_f64(
    lambda s: jnp.sum(losses.sinkhorn(s, epsilon=0.5) * jnp.arange(3.0)),
    (scores,),
  )


@pytest.mark.parametrize("v_low", [0, 3])
def test_swav_value(v_low):
  rng = np.random.default_rng(3)
  high = rng.uniform(-1, 1, size=(2, 5, 4))
  low = rng.uniform(-1, 1, size=(v_low, 5, 4))
  got = jax.jit(functools.partial(losses.swav, temperature=0.2, epsilon=0.1))(
    high, low
  )
  np.testing.assert_allclose(got, np_swav(high, low, 0.2, 0.1, 3), rtol=1e-5)


def test_swav_grads_hold_codes_fixed():
  """Gradient = that of the CE with the codes as constants (no grad path)."""
  rng = np.random.default_rng(4)
  high = rng.uniform(-1, 1, size=(2, 4, 3))
  low = rng.uniform(-1, 1, size=(1, 4, 3))

  def fixed_codes_loss(h, l, codes):
    views = jnp.concatenate([h, l])
    log_p = jax.nn.log_softmax(views / 0.1, axis=-1)
    total = 0.0
    for a in range(2):
      for b in range(3):
        if b != a:
          total -= jnp.mean(jnp.sum(codes[a] * log_p[b], axis=-1)) / 2
    return total / 2

  with jax.enable_x64(True):
    h, l = jnp.asarray(high), jnp.asarray(low)
    codes = jax.vmap(losses.sinkhorn)(h)
    got = jax.jit(jax.grad(losses.swav, argnums=(0, 1)))(h, l)
    want = jax.jit(jax.grad(fixed_codes_loss, argnums=(0, 1)))(h, l, codes)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-9)
  lt.check_grads_f64(lambda h, l: fixed_codes_loss(h, l, codes), (h, l))


def test_sharded_equivalence(devices):
  del devices
  rng = np.random.default_rng(5)
  high = rng.uniform(-1, 1, size=(2, 16, 4)).astype(np.float32)
  low = rng.uniform(-1, 1, size=(2, 16, 4)).astype(np.float32)
  target = rng.normal(size=(16, 4)).astype(np.float32)
  w = (np.eye(4) + 0.1).astype(np.float32)

  def make_swav(axis_name):
    return lambda w, h, l: losses.swav(h @ w, l @ w, axis_name=axis_name)

  lt.assert_sharded_equivalent(
    make_swav, w, [high, low], batch_axes=[1, 1], rtol=1e-4, atol=1e-5
  )

  def make_sinkhorn(axis_name):
    def f(w, s, target):
      local = jnp.sum(
        losses.sinkhorn(s @ w, epsilon=0.3, axis_name=axis_name) * target
      )
      return local if axis_name is None else jax.lax.psum(local, axis_name)

    return f

  lt.assert_sharded_equivalent(
    make_sinkhorn, w, [high[0], target], rtol=1e-4, atol=1e-5
  )


def test_bf16_and_errors():
  rng = np.random.default_rng(6)
  high = rng.uniform(-1, 1, size=(2, 8, 4))
  low = rng.uniform(-1, 1, size=(1, 8, 4))
  lt.assert_bf16_gives_f32(losses.swav, (high, low), rtol=0.05)
  assert losses.sinkhorn(high[0].astype(jnp.bfloat16)).dtype == jnp.float32
  with pytest.raises(
    ValueError, match=r"`high_res` and `low_res`.*\(1, 8, 3\)"
  ):
    losses.swav(high, low[..., :3])
  with pytest.raises(ValueError, match=r"`scores`.*rank 2.*\(2, 8, 4\)"):
    losses.sinkhorn(high)
  with pytest.raises(ValueError, match=r">= 2 views"):
    losses.swav(high[:1], low[:0])
