"""Tests for jaxssl.losses._contrastive against float64 NumPy references."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import losses
import losses_testing as lt


def np_logsumexp(x, axis):
  m = np.max(x, axis=axis, keepdims=True)
  out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
  return np.squeeze(out, axis=axis)


def _rng(seed=0):
  return np.random.default_rng(seed)


def _normalize(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


# ------------------------------------------------------------------ nt_xent


def np_nt_xent(z1, z2, temperature):
  """2N x 2N similarity matrix form of lightly's NTXentLoss."""
  z = _normalize(np.concatenate([z1, z2]).astype(np.float64))
  n2 = z.shape[0]
  sim = z @ z.T / temperature
  np.fill_diagonal(sim, -np.inf)
  pos = (np.arange(n2) + n2 // 2) % n2
  return np.mean(np_logsumexp(sim, axis=1) - sim[np.arange(n2), pos])


@pytest.mark.parametrize("n,d,temperature", [(4, 3, 0.1), (8, 16, 0.5),
                                             (1, 5, 0.2)])
def test_nt_xent_value(n, d, temperature):
  z1, z2 = _rng(n).normal(size=(2, n, d))
  got = jax.jit(functools.partial(losses.nt_xent,
                                  temperature=temperature))(z1, z2)
  assert got.dtype == jnp.float32 and got.shape == ()
  np.testing.assert_allclose(got, np_nt_xent(z1, z2, temperature), rtol=1e-5)


def test_nt_xent_perfect_pairs_low_loss():
  z = np.eye(4)
  assert losses.nt_xent(z, z, temperature=0.05) < 1e-6


def test_nt_xent_grads():
  z1, z2 = _rng(1).normal(size=(2, 4, 3))
  lt.check_grads_f64(functools.partial(losses.nt_xent, temperature=0.3),
                     (z1, z2))


def test_nt_xent_sharded_equivalence(devices):
  del devices
  z1, z2 = _rng(2).normal(size=(2, 16, 4)).astype(np.float32)
  w = _rng(3).normal(size=(4, 4)).astype(np.float32)

  def make_loss(axis_name):
    def f(w, z1, z2):
      return losses.nt_xent(z1 @ w, z2 @ w, temperature=0.2,
                            axis_name=axis_name)
    return f

  lt.assert_sharded_equivalent(make_loss, w, [z1, z2])


@jax.custom_vjp
def _scale_grad_by_8(x):
  return x


_scale_grad_by_8.defvjp(lambda x: (x, None), lambda _, g: (8.0 * g,))


@pytest.mark.parametrize("bug", ["stop_gradient_negatives", "grad_x8_params"])
def test_equivalence_check_catches_gradient_bugs(devices, bug):
  """The equivalence helper must fail on the bug class it is meant to catch.

  `stop_gradient_negatives`: gathered negatives carry no gradient (lightly
  #1528-style). `grad_x8_params`: the replicated parameter's gradient comes
  back multiplied by the device count, as with a spurious pmean/psum under
  check_vma=True; the value is unchanged.
  """
  del devices
  z1, z2 = _rng(2).normal(size=(2, 16, 4)).astype(np.float32)
  w = np.eye(4, dtype=np.float32) + 0.1

  def make_loss(axis_name):
    def f(w, z1, z2):
      if axis_name is None:
        return losses.nt_xent(z1 @ w, z2 @ w, temperature=0.2)
      if bug == "grad_x8_params":
        w = _scale_grad_by_8(w)
        return losses.nt_xent(z1 @ w, z2 @ w, temperature=0.2,
                              axis_name=axis_name)
      g1, g2 = (jax.lax.stop_gradient(jax.lax.all_gather(
          z @ w, axis_name, tiled=True)) for z in (z1, z2))
      return jax.lax.pmean(losses.nt_xent(g1, g2, temperature=0.2),
                           axis_name)
    return f

  with pytest.raises(AssertionError):
    lt.assert_sharded_equivalent(make_loss, w, [z1, z2])


def test_nt_xent_bf16():
  z1, z2 = _rng(4).normal(size=(2, 8, 16))
  lt.assert_bf16_gives_f32(losses.nt_xent, (z1, z2))


def test_nt_xent_vmap():
  z1, z2 = _rng(5).normal(size=(2, 3, 4, 5)).astype(np.float32)
  got = jax.vmap(losses.nt_xent)(z1, z2)
  want = [losses.nt_xent(a, b) for a, b in zip(z1, z2)]
  np.testing.assert_allclose(got, want, rtol=1e-6)


def test_nt_xent_errors():
  with pytest.raises(ValueError, match=r"`z1`.*rank 2.*\(4,\)"):
    losses.nt_xent(np.ones(4), np.ones(4))
  with pytest.raises(ValueError, match=r"`z1` and `z2`.*\(4, 3\).*\(4, 2\)"):
    losses.nt_xent(np.ones((4, 3)), np.ones((4, 2)))
  with pytest.raises(ValueError, match=r"`z2`.*floating.*int"):
    losses.nt_xent(np.ones((4, 3)), np.ones((4, 3), np.int32))
  with pytest.raises(ValueError, match="temperature"):
    losses.nt_xent(np.ones((4, 3)), np.ones((4, 3)), temperature=0.0)
