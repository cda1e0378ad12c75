"""BYOL: closed-form EMA target, stop-gradient, loss vs numpy, config errors."""

import math

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pytest

from jaxssl import methods
from jaxssl.methods import common

TOTAL = 100
BASE_TAU = 0.9


def tiny_config(**method_overrides):
  config = mt.smoke_config(
    "byol_quick", **{"ema_momentum": BASE_TAU, **method_overrides}
  )
  config.train.total_steps = TOTAL
  return config


def tiny_batch():
  return mt.two_view_batch(np.zeros(8), size=16)


@pytest.fixture(scope="module")
def setup():
  config = tiny_config()
  batch = tiny_batch()
  method, params, extra = mt.build_and_init(config, batch)
  # A target that differs from the online encoder, so view pairing and the
  # target branch matter in every test.
  extra = {**extra, "teacher": mt.perturb(extra["teacher"], seed=1)}
  return config, method, batch, params, extra


def closed_form_tau(step, total=TOTAL, base=BASE_TAU):
  k = min(step, total)
  return 1 - (1 - base) * (math.cos(math.pi * k / total) + 1) / 2


@pytest.mark.parametrize("step", [0, 25, 50, 100, 130])
def test_target_is_closed_form_ema_of_params_and_batch_stats(setup, step):
  _, method, _, params, extra = setup
  mt.assert_target_is_closed_form_ema(
    method, params, extra, step, closed_form_tau(step)
  )


def test_tau_schedule_values(setup):
  _, method, batch, params, extra = setup
  for step, want in [(0, 0.9), (50, 0.95), (100, 1.0), (500, 1.0)]:
    _, (_, metrics) = method.loss(
      params, extra, batch, jax.random.key(0), jnp.asarray(step)
    )
    np.testing.assert_allclose(metrics["tau"], want, rtol=1e-6)


def test_target_branch_gets_exactly_zero_gradient(setup):
  _, method, batch, params, extra = setup

  def loss_of_teacher(teacher):
    return method.loss(
      params,
      {**extra, "teacher": teacher},
      batch,
      jax.random.key(0),
      jnp.asarray(3),
    )[0]

  grads = jax.grad(loss_of_teacher)(extra["teacher"])
  for g in jax.tree.leaves(grads):
    np.testing.assert_array_equal(g, np.zeros_like(g))
  # The online side does learn (sanity check of the test itself).
  online = jax.grad(
    lambda p: method.loss(p, extra, batch, jax.random.key(0), jnp.asarray(3))[0]
  )(params)
  assert (
    sum(
      float(jnp.sum(jnp.abs(g))) for g in jax.tree.leaves(online["predictor"])
    )
    > 0
  )


def test_loss_matches_numpy_definition(setup):
  config, method, batch, params, extra = setup
  encoder = common.encoder(config)
  predictor = common.predictor(config)
  run = mt.train_apply  # training mode: batch statistics

  views = batch["views"]
  preds, targets, zs = [], [], []
  for v in range(2):
    z = run(
      encoder, params["encoder"], extra["batch_stats"]["encoder"], views[:, v]
    )["z"]
    zs.append(z)
    preds.append(
      run(predictor, params["predictor"], extra["batch_stats"]["predictor"], z)
    )
    targets.append(
      run(
        encoder,
        extra["teacher"]["params"],
        extra["teacher"]["batch_stats"],
        views[:, v],
      )["z"]
    )
  p1, p2 = map(mt.np_normalize, preds)
  t1, t2 = map(mt.np_normalize, targets)
  # 2 - 2 cos(p, z') per example, mean over the batch, both view orders.
  want = np.mean(2 - 2 * np.sum(p1 * t2, -1)) + np.mean(
    2 - 2 * np.sum(p2 * t1, -1)
  )
  value, (new_extra, metrics) = method.loss(
    params, extra, batch, jax.random.key(0), jnp.asarray(0)
  )
  np.testing.assert_allclose(value, want, rtol=1e-5)
  np.testing.assert_allclose(metrics["loss"], want, rtol=1e-5)
  u1, u2 = map(mt.np_normalize, zs)
  np.testing.assert_allclose(
    metrics["z_std"], np.mean(np.std(u1, axis=0)), rtol=1e-4
  )
  np.testing.assert_allclose(
    metrics["pos_cos"], np.mean(np.sum(u1 * u2, -1)), rtol=1e-4
  )
  # The loss leaves the target alone (update_extra moves it).
  jax.tree.map(
    np.testing.assert_array_equal, new_extra["teacher"], extra["teacher"]
  )


def test_features_are_online_backbone_in_inference_mode(setup):
  # The official code evaluates the online encoder: the default.
  config, method, batch, params, extra = setup
  assert config.method.eval_network == "student"
  mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["views"][:, 0], path=("encoder",)
  )


def test_eval_network_teacher_reads_the_ema_target(setup):
  config, method, batch, params, extra = setup
  teacher = methods.build(tiny_config(eval_network="teacher"))
  images = batch["views"][:, 0]
  feats = mt.assert_features_are_backbone_in_inference_mode(
    config, teacher, params, extra, images, network="teacher"
  )
  online = method.features(params, extra, {"image": images})
  assert not np.allclose(feats, online, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.ema_momentum", 1.5, "method.ema_momentum="),
    ("method.ema_momentum_end", 0.5, "method.ema_momentum_end"),
    ("method.eval_network", "target", "method.eval_network"),
    ("model.proj_layers", 0, "model.proj_layers"),
  ],
)
def test_bad_config_values_name_the_key(key, value, match):
  mt.assert_build_names_the_key(tiny_config(), key, value, match)


def test_needs_two_views():
  config = tiny_config()
  config.data.views.views.num_views = 3
  with pytest.raises(ValueError, match="num_views=2"):
    methods.build(config)


@pytest.mark.parametrize(
  "name", ["byol_quick", "byol_cifar10", "byol_imagenet"]
)
def test_shipped_configs_build(name):
  config, _ = mt.build_shipped_config(name)
  assert config.method.name == "byol"
