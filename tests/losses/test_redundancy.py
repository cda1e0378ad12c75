"""Tests for SimSiam/BYOL, Barlow Twins and VICReg vs float64 NumPy."""

import functools

import jax
import losses_testing as lt
import numpy as np
import pytest

from jaxssl import losses


def _unit(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def np_negative_cosine(p, z):
  return -np.mean(np.sum(_unit(p) * _unit(z), axis=-1))


def np_byol(p, z):
  return np.mean(np.sum((_unit(p) - _unit(z)) ** 2, axis=-1))


def np_barlow_twins(z1, z2, lam):
  def bn(z):  # BatchNorm1d(affine=False) in training mode
    return (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)

  c = bn(z1).T @ bn(z2) / len(z1)
  on = np.sum((np.diag(c) - 1) ** 2)
  off = np.sum(c**2) - np.sum(np.diag(c) ** 2)
  return on + lam * off


def np_vicreg(x, y, inv_w, var_w, cov_w):
  n, d = x.shape
  repr_loss = np.mean((x - y) ** 2)
  x = x - x.mean(0)
  y = y - y.mean(0)
  std_x = np.sqrt(x.var(0, ddof=1) + 1e-4)
  std_y = np.sqrt(y.var(0, ddof=1) + 1e-4)
  std_loss = (
    np.mean(np.maximum(1 - std_x, 0)) / 2
    + np.mean(np.maximum(1 - std_y, 0)) / 2
  )
  cov_x = x.T @ x / (n - 1)
  cov_y = y.T @ y / (n - 1)
  is_off = ~np.eye(d, dtype=bool)
  cov_loss = np.sum(cov_x[is_off] ** 2) / d + np.sum(cov_y[is_off] ** 2) / d
  return inv_w * repr_loss + var_w * std_loss + cov_w * cov_loss


def _pair(seed, n=8, d=5, scale=1.0):
  return np.random.default_rng(seed).normal(size=(2, n, d)) * scale


@pytest.mark.parametrize("scale", [0.3, 3.0])
def test_values(scale):
  p, z = _pair(0, scale=scale)
  np.testing.assert_allclose(
    jax.jit(losses.negative_cosine)(p, z), np_negative_cosine(p, z), rtol=1e-5
  )
  np.testing.assert_allclose(
    jax.jit(losses.byol)(p, z), np_byol(p, z), rtol=1e-5
  )
  bt = functools.partial(losses.barlow_twins, off_diagonal_weight=0.01)
  np.testing.assert_allclose(
    jax.jit(bt)(p, z), np_barlow_twins(p, z, 0.01), rtol=1e-5
  )
  vr = functools.partial(
    losses.vicreg,
    invariance_weight=2.0,
    variance_weight=3.0,
    covariance_weight=0.5,
  )
  np.testing.assert_allclose(
    jax.jit(vr)(p, z), np_vicreg(p, z, 2.0, 3.0, 0.5), rtol=1e-5
  )
  np.testing.assert_allclose(
    jax.jit(losses.vicreg)(p, z), np_vicreg(p, z, 25.0, 25.0, 1.0), rtol=1e-5
  )


def test_byol_is_two_minus_two_cos():
  p, z = _pair(1)
  np.testing.assert_allclose(
    losses.byol(p, z), 2 + 2 * losses.negative_cosine(p, z), rtol=1e-5
  )


@pytest.mark.parametrize(
  "name", ["negative_cosine", "byol", "barlow_twins", "vicreg"]
)
def test_grads_and_bf16(name):
  fn = getattr(losses, name)
  p, z = _pair(2, n=5, d=3)
  lt.check_grads_f64(fn, (p, z))
  lt.assert_bf16_gives_f32(fn, _pair(3), rtol=0.05, atol=0.05)


@pytest.mark.parametrize("name", ["barlow_twins", "vicreg"])
def test_sharded_equivalence(devices, name):
  del devices
  z1, z2 = _pair(4, n=16, d=4).astype(np.float32)
  w = (np.eye(4) + 0.1).astype(np.float32)
  fn = getattr(losses, name)

  def make_loss(axis_name):
    return lambda w, a, b: fn(a @ w, b @ w, axis_name=axis_name)

  lt.assert_sharded_equivalent(make_loss, w, [z1, z2], rtol=1e-4, atol=1e-5)


def test_global_jit_sharded_regression(devices):
  del devices
  p, z = _pair(5, n=16, d=4).astype(np.float32)
  w = (np.eye(4) + 0.1).astype(np.float32)

  def make_loss(axis_name):
    del axis_name
    return lambda w, p, z: (
      losses.byol(p @ w, z) + losses.negative_cosine(p @ w, z)
    )

  lt.assert_sharded_equivalent(make_loss, w, [p, z], shard_map_form=False)


def test_errors():
  x = np.ones((4, 3))
  for fn in (
    losses.negative_cosine,
    losses.byol,
    losses.barlow_twins,
    losses.vicreg,
  ):
    with pytest.raises(ValueError, match=r"must have the same shape.*\(4, 2\)"):
      fn(x, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"rank 2.*\(3,\)"):
      fn(np.ones(3), np.ones(3))
