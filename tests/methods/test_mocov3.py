"""MoCo v3: closed-form momentum encoder, stop-gradient, InfoNCE vs numpy
over the global batch (also when sharded over 8 devices), the frozen patch
projection, config errors."""

import math

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxssl import configs_lib, methods, models

TOTAL = 40
BASE_M = 0.99
TEMPERATURE = 0.5


def tiny_config():
  config = mt.smoke_config(
    "mocov3_quick", ema_momentum=BASE_M, temperature=TEMPERATURE
  )
  config.train.total_steps = TOTAL
  return config


def tiny_batch(n=8, size=16):
  return mt.two_view_batch(np.zeros(n), size=size)


@pytest.fixture(scope="module")
def setup():
  config = tiny_config()
  batch = tiny_batch()
  method, params, extra = mt.build_and_init(config, batch)
  extra = {**extra, "teacher": mt.perturb(extra["teacher"], seed=1)}
  return config, method, batch, params, extra


@pytest.mark.parametrize("step", [0, 10, 20, 39, 40, 41])
def test_momentum_encoder_is_closed_form_ema(setup, step):
  _, method, _, params, extra = setup
  k = min(step, TOTAL)
  m = 1 - (1 - BASE_M) * (math.cos(math.pi * k / TOTAL) + 1) / 2
  mt.assert_target_is_closed_form_ema(method, params, extra, step, m)


def test_momentum_encoder_gets_exactly_zero_gradient(setup):
  _, method, batch, params, extra = setup
  grads = jax.grad(
    lambda t: method.loss(
      params, {**extra, "teacher": t}, batch, jax.random.key(0), jnp.asarray(0)
    )[0]
  )(extra["teacher"])
  for g in jax.tree.leaves(grads):
    np.testing.assert_array_equal(g, np.zeros_like(g))


def numpy_loss(config, batch, params, extra):
  """MoCo v3's loss written out: CE(q k^T / t, diag) * 2t, both orders."""
  encoder = models.Encoder(
    models.backbone(config.model), models.projector(config.model)
  )
  predictor = models.predictor(config.model)
  run = mt.train_apply

  qs, ks = [], []
  for v in range(2):
    x = batch["views"][:, v]
    z = run(encoder, params["encoder"], extra["batch_stats"]["encoder"], x)["z"]
    qs.append(
      mt.np_normalize(
        run(
          predictor, params["predictor"], extra["batch_stats"]["predictor"], z
        )
      )
    )
    ks.append(
      mt.np_normalize(
        run(
          encoder,
          extra["teacher"]["params"],
          extra["teacher"]["batch_stats"],
          x,
        )["z"]
      )
    )

  def ctr(q, k):
    logits = q @ k.T / TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    log_prob = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(log_prob)) * 2 * TEMPERATURE

  return ctr(qs[0], ks[1]) + ctr(qs[1], ks[0])


def test_loss_matches_numpy_definition(setup):
  config, method, batch, params, extra = setup
  want = numpy_loss(config, batch, params, extra)
  value, (_, metrics) = method.loss(
    params, extra, batch, jax.random.key(0), jnp.asarray(0)
  )
  np.testing.assert_allclose(value, want, rtol=1e-5)
  np.testing.assert_allclose(metrics["loss"], want, rtol=1e-5)
  np.testing.assert_allclose(metrics["tau"], BASE_M, rtol=1e-7)
  assert 0.0 <= float(metrics["contrast_acc"]) <= 1.0


def test_loss_contrasts_the_global_batch_when_sharded(setup, devices):
  """Sharded over 8 devices (1 example each) the loss is still the
  global-batch loss: every query sees all N keys, BN sees all N rows."""
  config, method, batch, params, extra = setup
  mesh = Mesh(np.array(devices), ("data",))
  sharded = jax.device_put(batch, NamedSharding(mesh, P("data")))
  loss = jax.jit(
    lambda p, e, b: method.loss(p, e, b, jax.random.key(0), jnp.asarray(0))[0]
  )
  np.testing.assert_allclose(
    loss(params, extra, sharded),
    numpy_loss(config, batch, params, extra),
    rtol=1e-5,
  )


def test_features_are_online_backbone_in_inference_mode(setup):
  config, method, batch, params, extra = setup
  mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["views"][:, 0], path=("encoder",)
  )


def test_vit_heads_follow_the_imagenet_config():
  config = mt.load_config("mocov3_imagenet", "smoke")
  config.data.views.views.size = 32
  config.model.patch_size = 16
  method = methods.build(config)
  params, extra = method.init(jax.random.key(0), tiny_batch(n=4, size=32))
  proj = params["encoder"]["projector"]
  # 3-layer projector and 2-layer predictor, both with an affine-free BN out.
  assert sorted(k for k in proj if k.startswith("dense")) == [
    "dense0",
    "dense1",
    "dense2",
  ]
  assert "bn2" in extra["batch_stats"]["encoder"]["projector"]
  assert "bn2" not in proj
  assert "bn1" in extra["batch_stats"]["predictor"]
  assert "bn1" not in params["predictor"]


def test_freeze_patch_embed_keeps_the_random_patch_projection():
  config = mt.load_config("mocov3_imagenet", "smoke")
  assert config.method.freeze_patch_embed  # official --stop-grad-conv1
  config.data.views.views.size = 32
  config.model.patch_size = 16
  config.train.batch_size = 4
  config.optim.warmup_steps = 0  # AdamW, weight decay 0.1
  batch = tiny_batch(n=4, size=32)
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  labels = method.param_labels(params)["encoder"]["backbone"]
  assert labels["patch_embed"] == {
    "kernel": "patch_embed",
    "bias": "patch_embed",
  }
  assert labels["norm"] == {"scale": "no_decay", "bias": "no_decay"}
  history, state = mt.train(config, method, params, extra, batch, 2)
  path = ("encoder", "backbone", "patch_embed")
  mt.assert_moves_from(history, path, len(history))  # never
  mt.assert_moves_from(history, ("encoder", "backbone", "block0"), 0)
  # The momentum encoder's copy, an EMA of a constant, stays equal too.
  jax.tree.map(
    np.testing.assert_array_equal,
    state.extra["teacher"]["params"]["backbone"]["patch_embed"],
    params["encoder"]["backbone"]["patch_embed"],
  )


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.freeze_patch_embed", True, "method.freeze_patch_embed=True"),
    ("method.ema_momentum", -0.1, "method.ema_momentum="),
    ("method.ema_momentum_end", 0.9, "method.ema_momentum_end"),
    ("model.proj_layers", 0, "model.proj_layers"),
  ],
)
def test_bad_config_values_name_the_key(key, value, match):
  mt.assert_build_names_the_key(tiny_config(), key, value, match)


def test_needs_two_views():
  config = tiny_config()
  config.data.views = {
    "global_crops": configs_lib.view_group(num_views=2),
    "local_crops": configs_lib.view_group(num_views=4, size=16),
  }
  with pytest.raises(ValueError, match="one view group"):
    methods.build(config)


@pytest.mark.parametrize(
  "name", ["mocov3_quick", "mocov3_cifar10", "mocov3_imagenet"]
)
def test_shipped_configs_build(name):
  config, _ = mt.build_shipped_config(name)
  assert config.method.name == "mocov3"
