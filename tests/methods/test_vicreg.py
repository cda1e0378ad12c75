"""VICReg method vs a NumPy reference on the tiny model's outputs."""

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pytest

from jaxssl import losses, methods
from jaxssl.methods import vicreg

N = 8


def _config(**method):
  return mt.smoke_config("vicreg_quick", **method)


def np_vicreg_terms(x, y):
  """The official code's repr / std / cov losses (facebookresearch/vicreg)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  n, d = x.shape
  inv = np.mean((x - y) ** 2)
  x = x - x.mean(0)
  y = y - y.mean(0)
  std_x = np.sqrt(x.var(0, ddof=1) + 1e-4)
  std_y = np.sqrt(y.var(0, ddof=1) + 1e-4)
  var = (
    np.mean(np.maximum(1 - std_x, 0)) / 2
    + np.mean(np.maximum(1 - std_y, 0)) / 2
  )
  off = ~np.eye(d, dtype=bool)
  cov = (
    np.sum((x.T @ x / (n - 1))[off] ** 2) / d
    + np.sum((y.T @ y / (n - 1))[off] ** 2) / d
  )
  return inv, var, cov


@pytest.fixture(scope="module")
def setup():
  config = _config(
    invariance_weight=20.0, variance_weight=30.0, covariance_weight=2.0
  )
  batch = mt.two_view_batch(np.arange(N) % 3)
  method, params, extra = mt.build_and_init(config, batch)
  return config, method, params, extra, batch


def test_loss_is_the_library_loss_and_numpy(setup):
  config, method, params, extra, batch = setup
  value, (new_extra, metrics) = method.loss(
    params, extra, batch, jax.random.key(1), 0
  )
  z1, z2 = mt.two_view_projections(config, params, extra, batch["views"])
  library = losses.vicreg(
    z1, z2, invariance_weight=20.0, variance_weight=30.0, covariance_weight=2.0
  )
  np.testing.assert_allclose(value, library, rtol=1e-5)
  inv, var, cov = np_vicreg_terms(z1, z2)
  np.testing.assert_allclose(value, 20 * inv + 30 * var + 2 * cov, rtol=1e-4)
  np.testing.assert_allclose(metrics["inv_loss"], inv, rtol=1e-4)
  np.testing.assert_allclose(metrics["var_loss"], var, rtol=1e-4)
  np.testing.assert_allclose(metrics["cov_loss"], cov, rtol=1e-4)
  assert var > 0 and cov > 0  # the test exercises every term
  assert float(metrics["loss"]) == float(value)
  for key in ("z_std", "pos_cos"):
    assert np.isfinite(metrics[key]), key
  mt.assert_batch_stats_moved(extra, new_extra)


@pytest.mark.parametrize("per_view", [None, True, False])
def test_batchnorm_statistics_per_view(setup, per_view):
  # Official VICReg forwards each view separately (main_vicreg.py:
  # x = projector(backbone(x)); y = ...(y)): the default.
  _, method, params, extra, batch = setup
  weights = dict(
    invariance_weight=20.0, variance_weight=30.0, covariance_weight=2.0
  )
  config = _config(**weights)
  if per_view is not None:
    config.method.bn_per_view = per_view
    method = methods.build(config)
  assert config.method.bn_per_view == (per_view is not False)
  mt.assert_batchnorm_statistics_per_view(
    config,
    method,
    params,
    extra,
    batch,
    lambda z1, z2: losses.vicreg(z1, z2, **weights),
  )


def test_both_branches_get_gradient(setup):
  _, method, params, extra, batch = setup
  mt.assert_every_view_gets_gradient(method, params, extra, batch)


def test_invariance_only_pulls_views_together(setup):
  # With invariance only, identical views give zero loss (no other term).
  config = _config(
    invariance_weight=1.0, variance_weight=0.0, covariance_weight=0.0
  )
  method = methods.build(config)
  _, _, params, extra, batch = setup
  same = jnp.repeat(batch["views"][:, :1], 2, axis=1)
  value, _ = method.loss(
    params, extra, {**batch, "views": same}, jax.random.key(1), 0
  )
  assert abs(float(value)) < 1e-10


def test_features_are_backbone_in_inference_mode(setup):
  config, method, params, extra, batch = setup
  feats = mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["views"][:, 0]
  )
  assert feats.shape == (N, 128)


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.invariance_weight", -1.0, "method.invariance_weight"),
    ("method.variance_weight", -1.0, "method.variance_weight"),
    ("method.covariance_weight", -1.0, "method.covariance_weight"),
    ("model.proj_layers", 0, "model.proj_layers"),
    ("views.num_views", 3, "num_views"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  mt.assert_build_names_the_key(_config(), key, value, match)


def test_all_zero_weights_are_rejected():
  with pytest.raises(ValueError, match="covariance_weight} are all 0"):
    methods.build(
      _config(invariance_weight=0.0, variance_weight=0.0, covariance_weight=0.0)
    )


def np_solo_learn_vicreg(z1, z2, sim=25.0, var=25.0, cov=1.0):
  """solo-learn's `vicreg_loss_func` (solo/losses/vicreg.py), in NumPy:
  the two variance hinges are summed, not averaged."""
  z1, z2 = np.asarray(z1, np.float64), np.asarray(z2, np.float64)
  n, d = z1.shape
  sim_loss = np.mean((z1 - z2) ** 2)
  std1 = np.sqrt(z1.var(0, ddof=1) + 1e-4)
  std2 = np.sqrt(z2.var(0, ddof=1) + 1e-4)
  std_loss = np.mean(np.maximum(1 - std1, 0)) + np.mean(np.maximum(1 - std2, 0))
  off = ~np.eye(d, dtype=bool)
  c1, c2 = z1 - z1.mean(0), z2 - z2.mean(0)
  cov_loss = (
    np.sum((c1.T @ c1 / (n - 1))[off] ** 2) / d
    + np.sum((c2.T @ c2 / (n - 1))[off] ** 2) / d
  )
  return sim * sim_loss + var * std_loss + cov * cov_loss


def test_cifar10_config_is_solo_learns_objective():
  # configs/vicreg_cifar10.py claims solo-learn's recipe (sim 25 / var 25 /
  # cov 1 in solo-learn's convention); jaxssl's variance term is the mean
  # of the two branches' hinges (official VICReg), solo-learn's their sum.
  config = mt.load_config("vicreg_cifar10")
  weights = {key: config.method[key] for key in vicreg._WEIGHTS}
  rng = np.random.default_rng(0)
  # std 0.5 < 1: the variance hinge is active on every feature.
  z1 = 0.5 * rng.normal(size=(16, 8))
  z2 = z1 + 0.3 * rng.normal(size=(16, 8))
  value = losses.vicreg(
    jnp.asarray(z1, jnp.float32), jnp.asarray(z2, jnp.float32), **weights
  )
  np.testing.assert_allclose(value, np_solo_learn_vicreg(z1, z2), rtol=1e-5)
