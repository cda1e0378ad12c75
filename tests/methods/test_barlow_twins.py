"""Barlow Twins method vs a NumPy reference on the tiny model's outputs."""

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pytest

from jaxssl import losses, methods

N = 8


def _config(**method):
  return mt.smoke_config("barlow_twins_quick", **method)


def np_barlow_terms(z1, z2):
  z1, z2 = np.asarray(z1, np.float64), np.asarray(z2, np.float64)

  def bn(z):  # the official code's BatchNorm1d(affine=False), train mode
    return (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)

  c = bn(z1).T @ bn(z2) / len(z1)
  on = np.sum((1 - np.diag(c)) ** 2)
  off = np.sum(c**2) - np.sum(np.diag(c) ** 2)
  return on, off


@pytest.fixture(scope="module")
def setup():
  config = _config(off_diagonal_weight=0.02, barlow_scale=0.1)
  batch = mt.two_view_batch(np.arange(N) % 3)
  method, params, extra = mt.build_and_init(config, batch)
  return config, method, params, extra, batch


def test_loss_is_the_scaled_library_loss_and_numpy(setup):
  config, method, params, extra, batch = setup
  value, (new_extra, metrics) = method.loss(
    params, extra, batch, jax.random.key(1), 0
  )
  z1, z2 = mt.two_view_projections(config, params, extra, batch["views"])
  library = 0.1 * losses.barlow_twins(z1, z2, off_diagonal_weight=0.02)
  np.testing.assert_allclose(value, library, rtol=1e-5)
  on, off = np_barlow_terms(z1, z2)
  np.testing.assert_allclose(value, 0.1 * (on + 0.02 * off), rtol=1e-4)
  np.testing.assert_allclose(metrics["on_diag"], on, rtol=1e-4)
  np.testing.assert_allclose(metrics["off_diag"], off, rtol=1e-3)
  assert float(metrics["loss"]) == float(value)
  for key in ("z_std", "pos_cos"):
    assert np.isfinite(metrics[key]), key
  mt.assert_batch_stats_moved(extra, new_extra)


@pytest.mark.parametrize("per_view", [None, True, False])
def test_batchnorm_statistics_per_view(setup, per_view):
  # Official Barlow Twins forwards each view separately (main.py:
  # z1 = projector(backbone(y1)); z2 = ...(y2)): the default.
  _, method, params, extra, batch = setup
  config = _config(off_diagonal_weight=0.02, barlow_scale=0.1)
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
    lambda z1, z2: 0.1 * losses.barlow_twins(z1, z2, off_diagonal_weight=0.02),
  )


def test_both_branches_get_gradient(setup):
  _, method, params, extra, batch = setup
  grads = mt.assert_every_view_gets_gradient(method, params, extra, batch)
  assert float(optax_norm(grads["projector"])) > 0


def optax_norm(tree):
  return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(tree)))


def test_features_are_backbone_in_inference_mode(setup):
  config, method, params, extra, batch = setup
  feats = mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["views"][:, 0]
  )
  assert feats.shape == (N, 128)


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.off_diagonal_weight", -1.0, "method.off_diagonal_weight"),
    ("method.barlow_scale", 0.0, "method.barlow_scale"),
    ("model.proj_layers", 0, "model.proj_layers"),
    ("views.num_views", 3, "num_views"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  mt.assert_build_names_the_key(_config(), key, value, match)
