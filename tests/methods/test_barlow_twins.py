"""Barlow Twins method vs a NumPy reference on the tiny model's outputs."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib
from jaxssl import losses
from jaxssl import methods
from jaxssl import models

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
N = 8


def _config(**method):
  config = configs_lib.load(
      os.path.join(ROOT, "configs", "barlow_twins_quick.py"), "smoke")
  for key, value in method.items():
    config.method[key] = value
  return config


def _batch(seed=0, n=N):
  rng = np.random.default_rng(seed)
  return {"views": jnp.asarray(rng.normal(size=(n, 2, 32, 32, 3)),
                               jnp.float32),
          "label": jnp.arange(n, dtype=jnp.int32) % 3}


def np_barlow_terms(z1, z2):
  z1, z2 = np.asarray(z1, np.float64), np.asarray(z2, np.float64)

  def bn(z):  # the official code's BatchNorm1d(affine=False), train mode
    return (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)
  c = bn(z1).T @ bn(z2) / len(z1)
  on = np.sum((1 - np.diag(c)) ** 2)
  off = np.sum(c ** 2) - np.sum(np.diag(c) ** 2)
  return on, off


@pytest.fixture(scope="module")
def setup():
  config = _config(barlow_lambda=0.02, barlow_scale=0.1)
  method = methods.build(config)
  batch = _batch()
  params, extra = method.init(jax.random.key(0), batch)
  return config, method, params, extra, batch


def _projections(config, params, extra, views):
  encoder = models.Encoder(models.backbone(config.model),
                           models.projector(config.model))
  images = jnp.concatenate([views[:, 0], views[:, 1]])
  out, _ = encoder.apply({"params": params, **extra}, images, train=True,
                         mutable=["batch_stats"])
  return out["z"][:len(views)], out["z"][len(views):]


def test_loss_is_the_scaled_library_loss_and_numpy(setup):
  config, method, params, extra, batch = setup
  value, (new_extra, metrics) = method.loss(params, extra, batch,
                                            jax.random.key(1), 0)
  z1, z2 = _projections(config, params, extra, batch["views"])
  library = 0.1 * losses.barlow_twins(z1, z2, off_diagonal_weight=0.02)
  np.testing.assert_allclose(value, library, rtol=1e-5)
  on, off = np_barlow_terms(z1, z2)
  np.testing.assert_allclose(value, 0.1 * (on + 0.02 * off), rtol=1e-4)
  np.testing.assert_allclose(metrics["on_diag"], on, rtol=1e-4)
  np.testing.assert_allclose(metrics["off_diag"], off, rtol=1e-3)
  assert float(metrics["loss"]) == float(value)
  for key in ("z_std", "pos_cos"):
    assert np.isfinite(metrics[key]), key
  # BatchNorm statistics moved (train mode).
  before, after = jax.tree.leaves(extra), jax.tree.leaves(new_extra)
  assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_both_branches_get_gradient(setup):
  _, method, params, extra, batch = setup

  def f(views):
    return method.loss(params, extra, {**batch, "views": views},
                       jax.random.key(1), 0)[0]
  g = jax.grad(f)(batch["views"])
  for v in range(2):
    assert float(jnp.abs(g[:, v]).sum()) > 0, f"no gradient through view {v}"
  grads = jax.grad(lambda p: method.loss(p, extra, batch,
                                         jax.random.key(1), 0)[0])(params)
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(grads))
  assert float(optax_norm(grads["projector"])) > 0


def optax_norm(tree):
  return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(tree)))


def test_features_are_backbone_in_inference_mode(setup):
  config, method, params, extra, batch = setup
  images = batch["views"][:, 0]
  feats = method.features(params, extra, images)
  assert feats.shape == (N, 128)
  # Inference mode: an example's features do not depend on the batch.
  np.testing.assert_allclose(method.features(params, extra, images[:3]),
                             feats[:3], rtol=1e-5, atol=1e-6)
  backbone = models.backbone(config.model)
  ref = backbone.apply({"params": params["backbone"],
                        "batch_stats": extra["batch_stats"]["backbone"]},
                       images, train=False)["feats"]
  np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("key,value,match", [
    ("method.barlow_lambda", -1.0, "method.barlow_lambda"),
    ("method.barlow_scale", 0.0, "method.barlow_scale"),
    ("model.proj_layers", 0, "model.proj_layers"),
    ("views.num_views", 3, "num_views"),
])
def test_config_errors_name_the_key(key, value, match):
  config = _config()
  section, name = key.split(".")
  if section == "views":
    config.data.views.views[name] = value
  else:
    config[section][name] = value
  with pytest.raises(ValueError, match=match):
    methods.build(config)
