"""BYOL: closed-form EMA target, stop-gradient, loss vs numpy, config errors."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib
from jaxssl import methods
from jaxssl import models

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
TOTAL = 100
BASE_TAU = 0.9


def tiny_config(**method_overrides):
  config = configs_lib.load(os.path.join(ROOT, "configs", "byol_quick.py"),
                            "smoke")
  config.train.total_steps = TOTAL
  config.method.ema_momentum = BASE_TAU
  for key, value in method_overrides.items():
    config.method[key] = value
  return config


def tiny_batch(n=8, size=16, seed=0):
  rng = np.random.default_rng(seed)
  views = rng.normal(size=(n, 2, size, size, 3)).astype(np.float32)
  return {"views": jnp.asarray(views),
          "label": jnp.zeros((n,), jnp.int32)}


def perturb(tree, seed, scale=0.1):
  leaves, treedef = jax.tree.flatten(tree)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  return jax.tree.unflatten(treedef, [
      x + scale * jax.random.normal(k, x.shape, x.dtype)
      for x, k in zip(leaves, keys)])


@pytest.fixture(scope="module")
def setup():
  config = tiny_config()
  method = methods.build(config)
  batch = tiny_batch()
  params, extra = method.init(jax.random.key(0), batch)
  # A target that differs from the online encoder, so view pairing and the
  # target branch matter in every test.
  extra = {**extra, "teacher": perturb(extra["teacher"], seed=1)}
  return config, method, batch, params, extra


def closed_form_tau(step, total=TOTAL, base=BASE_TAU):
  k = min(step, total)
  return 1 - (1 - base) * (math.cos(math.pi * k / total) + 1) / 2


@pytest.mark.parametrize("step", [0, 25, 50, 100, 130])
def test_target_is_closed_form_ema_of_params_and_batch_stats(setup, step):
  _, method, _, params, extra = setup
  new_params = perturb(params, seed=2)
  extra = {**extra, "batch_stats": perturb(extra["batch_stats"], seed=3)}
  out = method.update_extra(new_params, extra, jnp.asarray(step))
  m = closed_form_tau(step)
  want = jax.tree.map(lambda t, o: m * t + (1 - m) * o,
                      extra["teacher"]["params"], new_params["encoder"])
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6,
                                                       atol=1e-7),
               out["teacher"]["params"], want)
  want_stats = jax.tree.map(lambda t, o: m * t + (1 - m) * o,
                            extra["teacher"]["batch_stats"],
                            extra["batch_stats"]["encoder"])
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6,
                                                       atol=1e-7),
               out["teacher"]["batch_stats"], want_stats)
  # The online statistics are untouched; the predictor has no target copy.
  jax.tree.map(np.testing.assert_array_equal, out["batch_stats"],
               extra["batch_stats"])
  assert set(out["teacher"]["params"]) == set(params["encoder"])


def test_tau_schedule_values(setup):
  _, method, batch, params, extra = setup
  for step, want in [(0, 0.9), (50, 0.95), (100, 1.0), (500, 1.0)]:
    _, (_, metrics) = method.loss(params, extra, batch, jax.random.key(0),
                                  jnp.asarray(step))
    np.testing.assert_allclose(metrics["tau"], want, rtol=1e-6)


def test_target_branch_gets_exactly_zero_gradient(setup):
  _, method, batch, params, extra = setup

  def loss_of_teacher(teacher):
    return method.loss(params, {**extra, "teacher": teacher}, batch,
                       jax.random.key(0), jnp.asarray(3))[0]

  grads = jax.grad(loss_of_teacher)(extra["teacher"])
  for g in jax.tree.leaves(grads):
    np.testing.assert_array_equal(g, np.zeros_like(g))
  # The online side does learn (sanity check of the test itself).
  online = jax.grad(lambda p: method.loss(p, extra, batch, jax.random.key(0),
                                          jnp.asarray(3))[0])(params)
  assert sum(float(jnp.sum(jnp.abs(g))) for g in
             jax.tree.leaves(online["predictor"])) > 0


def _np_normalize(x):
  x = np.asarray(x, np.float64)
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_loss_matches_numpy_definition(setup):
  config, method, batch, params, extra = setup
  encoder = models.Encoder(models.backbone(config.model),
                           models.projector(config.model))
  predictor = models.predictor(config.model)

  def run(module, p, stats, x):  # training mode: batch statistics
    out, _ = module.apply({"params": p, "batch_stats": stats}, x, train=True,
                          mutable=["batch_stats"])
    return out

  views = batch["views"]
  preds, targets, zs = [], [], []
  for v in range(2):
    z = run(encoder, params["encoder"], extra["batch_stats"]["encoder"],
            views[:, v])["z"]
    zs.append(z)
    preds.append(run(predictor, params["predictor"],
                     extra["batch_stats"]["predictor"], z))
    targets.append(run(encoder, extra["teacher"]["params"],
                       extra["teacher"]["batch_stats"], views[:, v])["z"])
  p1, p2 = map(_np_normalize, preds)
  t1, t2 = map(_np_normalize, targets)
  # 2 - 2 cos(p, z') per example, mean over the batch, both view orders.
  want = (np.mean(2 - 2 * np.sum(p1 * t2, -1))
          + np.mean(2 - 2 * np.sum(p2 * t1, -1)))
  value, (new_extra, metrics) = method.loss(params, extra, batch,
                                            jax.random.key(0), jnp.asarray(0))
  np.testing.assert_allclose(value, want, rtol=1e-5)
  np.testing.assert_allclose(metrics["loss"], want, rtol=1e-5)
  u1, u2 = map(_np_normalize, zs)
  np.testing.assert_allclose(metrics["z_std"], np.mean(np.std(u1, axis=0)),
                             rtol=1e-4)
  np.testing.assert_allclose(metrics["pos_cos"],
                             np.mean(np.sum(u1 * u2, -1)), rtol=1e-4)
  # The loss leaves the target alone (update_extra moves it).
  jax.tree.map(np.testing.assert_array_equal, new_extra["teacher"],
               extra["teacher"])


def test_features_are_online_backbone_in_inference_mode(setup):
  config, method, batch, params, extra = setup
  images = batch["views"][:, 0]
  backbone = models.backbone(config.model)
  want = backbone.apply(
      {"params": params["encoder"]["backbone"],
       "batch_stats": extra["batch_stats"]["encoder"]["backbone"]},
      images, train=False)["feats"]
  np.testing.assert_allclose(method.features(params, extra, images), want,
                             rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("section,key,value,match", [
    ("method", "ema_momentum", 1.5, "method.ema_momentum="),
    ("method", "ema_momentum_end", 0.5, "method.ema_momentum_end"),
    ("model", "proj_layers", 0, "model.proj_layers"),
])
def test_bad_config_values_name_the_key(section, key, value, match):
  config = tiny_config()
  config[section][key] = value
  with pytest.raises(ValueError, match=match):
    methods.build(config)


def test_needs_two_views():
  config = tiny_config()
  config.data.views.views.num_views = 3
  with pytest.raises(ValueError, match="num_views=2"):
    methods.build(config)


@pytest.mark.parametrize("name", ["byol_quick", "byol_cifar10",
                                  "byol_imagenet"])
def test_shipped_configs_build(name):
  config = configs_lib.load(os.path.join(ROOT, "configs", f"{name}.py"))
  assert config.method.name == "byol"
  methods.build(config)
