"""Tests for the metric-side diagnostics (values, shard_map, no gradient)."""

import jax
import jax.numpy as jnp
import losses_testing as lt
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxssl import losses


def _unit(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def np_accuracy(z1, z2):
  z = _unit(np.concatenate([z1, z2]))
  sim = z @ z.T
  np.fill_diagonal(sim, -np.inf)
  n2 = len(z)
  return np.mean(np.argmax(sim, 1) == (np.arange(n2) + n2 // 2) % n2)


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def test_values():
  rng = np.random.default_rng(0)
  z1 = rng.normal(size=(16, 4))
  z2 = z1 + rng.normal(size=(16, 4)) * 0.7
  acc = np_accuracy(z1, z2)
  assert 0 < acc < 1  # a non-trivial case
  np.testing.assert_allclose(losses.contrastive_accuracy(z1, z2), acc)
  np.testing.assert_allclose(
    losses.embedding_std(z1), _unit(z1).std(0).mean(), rtol=1e-5
  )
  logits = rng.normal(size=(16, 5)) * 3
  p = _softmax(logits / 2.0)
  np.testing.assert_allclose(
    losses.mean_entropy(logits, temperature=2.0),
    np.mean(-np.sum(p * np.log(p), -1)),
    rtol=1e-5,
  )
  m = p.mean(0)
  np.testing.assert_allclose(
    losses.marginal_entropy(logits, temperature=2.0),
    -np.sum(m * np.log(m)),
    rtol=1e-5,
  )
  assert not np.any(jax.grad(losses.embedding_std)(z1))


def test_shard_map_matches_global(devices):
  del devices
  rng = np.random.default_rng(1)
  z1, z2 = rng.normal(size=(2, 16, 4)).astype(np.float32)
  z2 = z1 + 0.7 * z2
  logits = rng.normal(size=(16, 5)).astype(np.float32)
  mesh = lt.make_mesh()

  def all_metrics(z1, z2, logits, axis_name=None):
    return jnp.stack(
      [
        losses.contrastive_accuracy(z1, z2, axis_name=axis_name),
        losses.embedding_std(z1, axis_name=axis_name),
        losses.marginal_entropy(logits, axis_name=axis_name),
      ]
    )

  sharded = jax.jit(
    jax.shard_map(
      lambda *a: all_metrics(*a, axis_name="data"),
      mesh=mesh,
      in_specs=(P("data"),) * 3,
      out_specs=P(),
    )
  )
  args = [
    jax.device_put(a, NamedSharding(mesh, P("data"))) for a in (z1, z2, logits)
  ]
  want = all_metrics(z1, z2, logits)
  np.testing.assert_allclose(sharded(*args), want, rtol=1e-5)
  np.testing.assert_allclose(jax.jit(all_metrics)(*args), want, rtol=1e-5)
