"""Shared pieces of the method tests: configs, batches and common checks.

Each check states one property several methods share (features are the
backbone in inference mode, every view gets a gradient, an EMA target is
the closed-form average, a bad config value names its key); the method's
own test file decides which of its outputs the check applies to.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib, methods
from jaxssl.methods import common, multicrop
from jaxssl.train import optim
from jaxssl.train import state as state_lib
from jaxssl.train import step as step_lib

ROOT = os.path.dirname(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)


def load_config(name, arg=None):
  """`configs/<name>.py` loaded (and validated) with `arg`."""
  return configs_lib.load(os.path.join(ROOT, "configs", f"{name}.py"), arg)


def smoke_config(name, **method):
  """`configs/<name>.py:smoke` with `config.method` keys overridden."""
  config = load_config(name, "smoke")
  for key, value in method.items():
    config.method[key] = value
  return config


def two_view_batch(labels, size=32, seed=0):
  """{"views": N(0, 1) float32 [n, 2, size, size, 3], "label": int32 [n]}."""
  n = len(labels)
  rng = np.random.default_rng(seed)
  return {
    "views": jnp.asarray(rng.normal(size=(n, 2, size, size, 3)), jnp.float32),
    "label": jnp.asarray(labels, jnp.int32),
  }


def multicrop_batch(config, n, seed=0):
  """N(0, 1) views for every group of `config.data.views`, zero labels."""
  keys = jax.random.split(jax.random.key(seed), len(config.data.views))
  batch = {
    name: jax.random.normal(k, (n, g.num_views, g.size, g.size, 3))
    for k, (name, g) in zip(keys, config.data.views.items())
  }
  batch["label"] = jnp.zeros((n,), jnp.int32)
  return batch


def build_and_init(config, batch, seed=0, jit=False):
  """(method, params, extra) of `config`, initialised on `batch`."""
  method = methods.build(config)
  init = jax.jit(method.init) if jit else method.init
  params, extra = init(jax.random.key(seed), batch)
  return method, params, extra


def build_shipped_config(name):
  """`configs/<name>.py` (default arg) and the method it builds."""
  config = load_config(name)
  return config, methods.build(config)


def method_optimizer(config, method):
  """`config.optim`'s optimizer over the method's parameter groups."""
  return optim.make(
    config.optim,
    config.train.batch_size,
    config.train.total_steps,
    param_labels=method.param_labels,
    param_groups=method.param_groups,
  )


def train(config, method, params, extra, batch, steps):
  """Runs `steps` real train steps (the loop's step) on one fixed batch.

  Returns:
    (history, state): the params before each step and after the last
    (`history[s]`: after s updates), and the final TrainState.
  """
  tx, lr = method_optimizer(config, method)
  step = jax.jit(step_lib.make_train_step(method, tx, lr, jax.random.key(0)))
  state = state_lib.TrainState(
    step=jnp.zeros((), jnp.int32),
    params=params,
    opt_state=tx.init(params),
    extra=extra,
  )
  history = [params]
  for _ in range(steps):
    state, _ = step(state, batch)
    history.append(state.params)
  return history, state


def assert_moves_from(history, path, first_update):
  """The leaves under `path` are bit-identical in `history[:first_update +
  1]` (no update before step `first_update`) and all differ after."""

  def at(params):
    for key in path:
      params = params[key]
    return jax.tree.leaves(params)

  initial = at(history[0])
  for s, params in enumerate(history):
    for a, b in zip(initial, at(params)):
      same = np.array_equal(np.asarray(a), np.asarray(b))
      assert same == (s <= first_update), (path, s)


def perturb(tree, seed, scale=0.1):
  """`tree` plus `scale` times N(0, 1) noise, leaf by leaf."""
  leaves, treedef = jax.tree.flatten(tree)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  return jax.tree.unflatten(
    treedef,
    [
      x + scale * jax.random.normal(k, x.shape, x.dtype)
      for x, k in zip(leaves, keys)
    ],
  )


def train_apply(module, params, stats, x):
  """Training-mode forward (batch statistics), running stats discarded."""
  out, _ = module.apply(
    {"params": params, "batch_stats": stats},
    x,
    train=True,
    mutable=["batch_stats"],
  )
  return out


def np_normalize(x):
  """Rows of `x` over their L2 norm, in float64."""
  x = np.asarray(x, np.float64)
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def two_view_projections(config, params, extra, views, *, per_view=None):
  """(z1, z2) of a one-network method (backbone + projector, params at the
  top) in training mode: each view in its own call (`per_view`, BatchNorm
  statistics per view) or both views in one call; `per_view=None` follows
  `config.method.bn_per_view`."""
  if per_view is None:
    per_view = config.method.bn_per_view
  encoder = common.encoder(config)
  stats = extra["batch_stats"]
  if per_view:
    return tuple(
      train_apply(encoder, params, stats, views[:, v])["z"] for v in (0, 1)
    )
  images = jnp.concatenate([views[:, 0], views[:, 1]])
  out = train_apply(encoder, params, stats, images)
  return out["z"][: len(views)], out["z"][len(views) :]


def assert_batchnorm_statistics_per_view(
  config, method, params, extra, batch, loss_of
):
  """A one-network method normalises each view with its own BatchNorm
  statistics iff `config.method.bn_per_view`, and updates the running
  statistics as the official code's forwards would.

  The second view of `batch["views"]` is shifted and scaled (mean 3, std 2
  against the first's 0 and 1), so merged statistics normalise neither view
  as its own would. The loss must be `loss_of(z1, z2)` of the projections
  of the configured forward and differ from that of the other one. Running
  statistics: per view, two consecutive training calls, each an EMA step
  (PyTorch's `running = (1 - 0.1) * running + 0.1 * batch_mean`, Flax's
  momentum 0.9), checked in closed form on the projector's first
  BatchNorm: r2 = 0.9 (0.9 r0 + 0.1 m1) + 0.1 m2; merged, one step on the
  mean over both views.
  """
  per_view = config.method.bn_per_view
  views = batch["views"]
  views = views.at[:, 1].set(3.0 + 2.0 * views[:, 1])
  batch = {**batch, "views": views}
  value, (new_extra, _) = method.loss(
    params, extra, batch, jax.random.key(1), 0
  )
  want = loss_of(
    *two_view_projections(config, params, extra, views, per_view=per_view)
  )
  other = loss_of(
    *two_view_projections(config, params, extra, views, per_view=not per_view)
  )
  np.testing.assert_allclose(value, want, rtol=1e-5)
  assert abs(float(value) - float(other)) > 1e-2 * abs(float(want)), (
    value,
    other,
  )
  # The running mean of the projector's first BatchNorm, in closed form.
  backbone = common.backbone(config)
  stats = extra["batch_stats"]

  def hidden_mean(images):
    feats = train_apply(
      backbone, params["backbone"], stats["backbone"], images
    )["feats"]
    return jnp.mean(feats @ params["projector"]["dense0"]["kernel"], axis=0)

  r0 = stats["projector"]["bn0"]["mean"]
  if per_view:
    m1, m2 = hidden_mean(views[:, 0]), hidden_mean(views[:, 1])
    want_mean = 0.9 * (0.9 * r0 + 0.1 * m1) + 0.1 * m2
  else:
    merged = jnp.concatenate([views[:, 0], views[:, 1]])
    want_mean = 0.9 * r0 + 0.1 * hidden_mean(merged)
  np.testing.assert_allclose(
    new_extra["batch_stats"]["projector"]["bn0"]["mean"],
    want_mean,
    rtol=1e-4,
    atol=1e-5,
  )


def assert_projector_has_no_batchnorm(config):
  """`config.model.proj_bn` is off and `common.projector(config)` is
  Linear (with bias)-ReLU-Linear: no BatchNorm, no batch statistics."""
  assert not config.model.proj_bn
  head = common.projector(config)
  variables = jax.eval_shape(
    lambda: head.init(jax.random.key(0), jnp.ones((2, 8)), train=False)
  )
  assert set(variables["params"]) == {"dense0", "dense1"}
  assert set(variables["params"]["dense0"]) == {"kernel", "bias"}
  assert "batch_stats" not in variables


def assert_features_are_backbone_in_inference_mode(
  config,
  method,
  params,
  extra,
  images,
  *,
  path=(),
  network="student",
  rtol=1e-5,
  atol=1e-5,
):
  """`method.features` is the backbone in inference mode; returns them.

  Checks that an example's features do not depend on the rest of the batch
  (alone, or with two others) and that they equal
  `common.backbone(config)` applied in inference mode with the params
  and BatchNorm statistics under `path` (e.g. ("encoder",)) + ("backbone",)
  of the trained network (`network="student"`), or under ("backbone",) of
  the EMA teacher `extra["teacher"]` (`network="teacher"`). The default
  atol is float32 noise of the batch-size dependent convolutions (up to
  ~2e-6 on features of order 1-10 with every residual branch live).
  """
  features = jax.jit(method.features)
  feats = features(params, extra, {"image": images})
  for n in (1, 3):
    np.testing.assert_allclose(
      features(params, extra, {"image": images[:n]}),
      feats[:n],
      rtol=rtol,
      atol=atol,
    )
  if network == "teacher":
    p, stats = extra["teacher"]["params"], extra["teacher"]["batch_stats"]
  else:
    p, stats = params, extra["batch_stats"]
    for key in path:
      p, stats = p[key], stats[key]
  ref = common.backbone(config).apply(
    {"params": p["backbone"], "batch_stats": stats["backbone"]},
    images,
    train=False,
  )["feats"]
  np.testing.assert_allclose(feats, ref, rtol=rtol, atol=atol)
  return feats


def assert_every_view_gets_gradient(
  method, params, extra, batch, group="views"
):
  """d loss / d views is nonzero for each view of `batch[group]`, and
  d loss / d params finite; returns the latter."""

  def loss(params, views):
    return method.loss(
      params, extra, {**batch, group: views}, jax.random.key(1), 0
    )[0]

  grads, g = jax.grad(loss, argnums=(0, 1))(params, batch[group])
  for v in range(g.shape[1]):
    assert float(jnp.abs(g[:, v]).sum()) > 0, f"no gradient through view {v}"
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(grads))
  return grads


def assert_batch_stats_moved(extra, new_extra):
  """The loss ran in training mode: some BatchNorm statistic changed."""
  before, after = jax.tree.leaves(extra), jax.tree.leaves(new_extra)
  assert any(not np.allclose(a, b) for a, b in zip(before, after))


def assert_target_is_closed_form_ema(method, params, extra, step, momentum):
  """`update_extra` moves the target to the EMA of the online encoder.

  From perturbed online params and statistics: teacher = m * teacher +
  (1 - m) * online for the params and the BatchNorm statistics, with
  m = `momentum`; the online statistics are untouched and the target has
  the encoder's params only (no predictor).
  """
  new_params = perturb(params, seed=2)
  extra = {**extra, "batch_stats": perturb(extra["batch_stats"], seed=3)}
  out = method.update_extra(new_params, extra, jnp.asarray(step))
  m = momentum

  def check(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

  jax.tree.map(
    check,
    out["teacher"]["params"],
    jax.tree.map(
      lambda t, o: m * t + (1 - m) * o,
      extra["teacher"]["params"],
      new_params["encoder"],
    ),
  )
  jax.tree.map(
    check,
    out["teacher"]["batch_stats"],
    jax.tree.map(
      lambda t, o: m * t + (1 - m) * o,
      extra["teacher"]["batch_stats"],
      extra["batch_stats"]["encoder"],
    ),
  )
  jax.tree.map(
    np.testing.assert_array_equal, out["batch_stats"], extra["batch_stats"]
  )
  assert set(out["teacher"]["params"]) == set(params["encoder"])


def assert_build_names_the_key(config, key, value, match):
  """`methods.build` raises a ValueError matching `match` once `key` (e.g.
  "method.temperature", or "views.num_views" for the "views" group) is
  set to `value`."""
  section, name = key.split(".")
  if section == "views":
    config.data.views.views[name] = value
  else:
    config[section][name] = value
  with pytest.raises(ValueError, match=match):
    methods.build(config)


def backbone_calls(monkeypatch, method, params, extra, batch):
  """Image shapes of each `multicrop.apply_backbone` call of one loss."""
  seen = []
  original = multicrop.apply_backbone

  def spy(backbone, p, stats, images_per_group, *, train):
    seen.append([tuple(x.shape) for x in images_per_group])
    return original(backbone, p, stats, images_per_group, train=train)

  monkeypatch.setattr(multicrop, "apply_backbone", spy)
  jax.eval_shape(method.loss, params, extra, batch, jax.random.key(0), 0)
  return seen
