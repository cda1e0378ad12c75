"""SimSiam: loss vs numpy, the stop-gradient, heads, the fixed predictor
lr, config errors."""

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pytest

from jaxssl import losses, methods, models
from jaxssl.methods import online_target
from jaxssl.train import optim


def tiny_config():
  return mt.smoke_config("simsiam_quick")


@pytest.fixture(scope="module")
def setup():
  config = tiny_config()
  batch = mt.two_view_batch(np.zeros(8), size=16)
  method, params, extra = mt.build_and_init(config, batch)
  return config, method, batch, params, extra


def modules(config):
  encoder = models.Encoder(
    models.backbone(config.model), models.projector(config.model)
  )
  return encoder, models.predictor(config.model)


run = mt.train_apply


def test_heads_follow_the_paper_layout(setup):
  config, _, _, params, extra = setup
  projector = params["encoder"]["projector"]
  # 3 Linear layers, BN after each; the output BN has no affine params.
  assert sorted(k for k in projector if k.startswith("dense")) == [
    "dense0",
    "dense1",
    "dense2",
  ]
  assert "bn2" not in projector
  assert "bn2" in extra["batch_stats"]["encoder"]["projector"]
  # Bottleneck predictor proj_dim -> pred_hidden_dim -> proj_dim, no out BN.
  pred = params["predictor"]
  assert pred["dense0"]["kernel"].shape == (
    config.model.proj_dim,
    config.model.pred_hidden_dim,
  )
  assert pred["dense1"]["kernel"].shape == (
    config.model.pred_hidden_dim,
    config.model.proj_dim,
  )
  assert "bn1" not in extra["batch_stats"]["predictor"]


def test_loss_matches_numpy_definition(setup):
  config, method, batch, params, extra = setup
  encoder, predictor = modules(config)
  stats = extra["batch_stats"]
  ps, zs = [], []
  for v in range(2):
    z = run(encoder, params["encoder"], stats["encoder"], batch["views"][:, v])[
      "z"
    ]
    zs.append(np.asarray(z, np.float64))
    ps.append(
      np.asarray(
        run(predictor, params["predictor"], stats["predictor"], z), np.float64
      )
    )

  def cos(a, b):
    return np.sum(a * b, -1) / (
      np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    )

  want = -0.5 * (np.mean(cos(ps[0], zs[1])) + np.mean(cos(ps[1], zs[0])))
  value, (_, metrics) = method.loss(
    params, extra, batch, jax.random.key(0), jnp.asarray(0)
  )
  np.testing.assert_allclose(value, want, rtol=1e-5)
  np.testing.assert_allclose(metrics["loss"], want, rtol=1e-5)
  assert -1.0 <= float(value) <= 1.0


def test_stop_gradient_on_the_target_branch(setup):
  """d loss / d params flows only through the predictions p, never z."""
  config, method, batch, params, extra = setup
  encoder, predictor = modules(config)
  stats = extra["batch_stats"]
  views = batch["views"]

  def reference(p, target_params):
    """The symmetric loss with targets from `target_params`."""
    total = 0.0
    for v in range(2):
      z = run(encoder, p["encoder"], stats["encoder"], views[:, v])["z"]
      pred = run(predictor, p["predictor"], stats["predictor"], z)
      target = run(
        encoder, target_params["encoder"], stats["encoder"], views[:, 1 - v]
      )["z"]
      total += 0.5 * losses.negative_cosine(pred, target)
    return total

  got = jax.grad(
    lambda p: method.loss(p, extra, batch, jax.random.key(0), jnp.asarray(0))[0]
  )(params)
  # Targets from a constant copy of the params: no gradient through them.
  want = jax.grad(lambda p: reference(p, params))(params)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6),
    got,
    want,
  )
  # Without the stop-gradient the encoder gradient would differ.
  both = jax.grad(lambda p: reference(p, p))(params)
  diff = sum(
    float(jnp.sum(jnp.abs(a - b)))
    for a, b in zip(
      jax.tree.leaves(got["encoder"]), jax.tree.leaves(both["encoder"])
    )
  )
  assert diff > 1e-3


def test_running_stats_are_updated_once_per_view(setup):
  config, method, batch, params, extra = setup
  _, (new_extra, _) = method.loss(
    params, extra, batch, jax.random.key(0), jnp.asarray(0)
  )
  online = online_target.OnlineNetwork(*modules(config))
  stats = extra["batch_stats"]
  for v in range(2):
    _, state = online.apply(
      {"params": params, "batch_stats": stats},
      batch["views"][:, v],
      train=True,
      mutable=["batch_stats"],
    )
    stats = state["batch_stats"]
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
    new_extra["batch_stats"],
    stats,
  )


def test_features_are_the_backbone_in_inference_mode(setup):
  config, method, batch, params, extra = setup
  mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["views"][:, 0], path=("encoder",)
  )


def test_fixed_predictor_lr_is_constant_while_the_rest_follows_the_schedule(
  setup,
):
  config = tiny_config()
  config.method.fixed_predictor_lr = True
  config.train.total_steps = 10
  config.optim.update(momentum=0.0, weight_decay=0.0, warmup_steps=3)
  method = methods.build(config)
  params = setup[3]
  labels = method.param_labels(params)
  assert set(jax.tree.leaves(labels["predictor"])) == {
    "predictor_decay",
    "predictor_no_decay",
  }
  assert labels["predictor"]["dense0"]["kernel"] == "predictor_decay"
  assert set(jax.tree.leaves(labels["encoder"])) == {"decay", "no_decay"}
  tx, sched = mt.method_optimizer(config, method)
  peak = optim.peak_lr(config.optim, config.train.batch_size)
  ones = jax.tree.map(jnp.ones_like, params)
  state = tx.init(params)
  for step in range(config.train.total_steps):
    # SGD without momentum or decay on a gradient of ones: update = -lr.
    updates, state = tx.update(ones, state, params)
    for leaf in jax.tree.leaves(updates["predictor"]):
      np.testing.assert_allclose(leaf, -peak, rtol=1e-6)
    for leaf in jax.tree.leaves(updates["encoder"]):
      np.testing.assert_allclose(leaf, -sched(step), rtol=1e-6, atol=1e-9)
  # Off (the quick config's default): the default groups.
  labels = methods.build(tiny_config()).param_labels(params)
  assert set(jax.tree.leaves(labels)) == {"decay", "no_decay"}


def test_bad_config_values_name_the_key():
  config = tiny_config()
  config.model.proj_layers = 0
  with pytest.raises(ValueError, match="model.proj_layers"):
    methods.build(config)
  config = tiny_config()
  config.data.views.views.num_views = 1
  with pytest.raises(ValueError, match="num_views=2"):
    methods.build(config)


@pytest.mark.parametrize(
  "name", ["simsiam_quick", "simsiam_cifar10", "simsiam_imagenet"]
)
def test_shipped_configs_build(name):
  config, _ = mt.build_shipped_config(name)
  assert config.method.name == "simsiam"
  assert config.model.proj_last_bn and not config.model.pred_last_bn
  # The official and solo-learn recipes keep the predictor lr constant.
  assert config.method.fixed_predictor_lr == (name != "simsiam_quick")
