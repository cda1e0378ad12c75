"""DINO method: multi-crop wiring, schedules and gradients vs closed forms.

One tiny config (tiny_resnet, 2 global 32-px + 3 local 16-px crops, a
16-prototype head) and one jitted loss+gradient function shared by the
tests; schedules are checked against numpy closed forms of the official
code (`cosine_scheduler`, `np.linspace` teacher temperature, centre EMA),
the loss against an independent numpy DINO loss on the method's own logits.
"""

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pytest

from jaxssl import configs_lib, methods, models
from jaxssl.methods import base, dino, multicrop
from jaxssl.models import prototype_heads

N = 4
TOTAL = 100
FREEZE = 5
WARMUP = 11


def _config(**method):
  c = configs_lib.base_config()
  c.data.views = {
    "global_crops": configs_lib.view_group(num_views=2, size=32),
    "local_crops": configs_lib.view_group(
      num_views=3, size=16, crop_scale=(0.05, 0.4)
    ),
  }
  c.model.name = "tiny_resnet"
  c.method.name = "dino"
  c.method.update(
    num_prototypes=16,
    head_hidden_dim=32,
    head_bottleneck_dim=8,
    freeze_last_layer_steps=FREEZE,
    teacher_temp=0.04,
    teacher_temp_end=0.07,
    teacher_temp_warmup_steps=WARMUP,
    ema_momentum=0.996,
    center_momentum=0.9,
  )
  c.method.update(method)
  c.train.total_steps = TOTAL
  return configs_lib.validate(c)


@pytest.fixture(scope="module")
def setup():
  config = _config()
  batch = mt.multicrop_batch(config, N)
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  # Make the teacher differ from the student so the EMA is visible.
  extra["teacher"]["params"] = jax.tree.map(
    lambda p: p * 0.5 + 0.01, extra["teacher"]["params"]
  )

  @jax.jit
  def run(params, teacher_params, extra, batch, step):
    def f(params, teacher_params):
      e = {**extra, "teacher": {**extra["teacher"], "params": teacher_params}}
      return method.loss(params, e, batch, jax.random.key(0), step)

    (value, aux), grads = jax.value_and_grad(f, argnums=(0, 1), has_aux=True)(
      params, teacher_params
    )
    return value, aux, grads

  return config, method, batch, params, extra, run


def _run(setup, step):
  _, _, batch, params, extra, run = setup
  return run(params, extra["teacher"]["params"], extra, batch, step)


def test_extra_layout(setup):
  config, _, _, params, extra, _ = setup
  assert sorted(extra) == ["batch_stats", "center", "teacher"]
  assert extra["center"].shape == (16,)
  np.testing.assert_array_equal(extra["center"], 0)
  assert jax.tree.structure(extra["teacher"]["params"]) == jax.tree.structure(
    params
  )
  assert dino.head_use_bn(config)  # ResNet backbone: BN in the head.


def test_multicrop_views_reach_the_backbone_at_their_size(setup, monkeypatch):
  _, method, batch, params, extra, _ = setup
  seen = mt.backbone_calls(monkeypatch, method, params, extra, batch)
  # Student: every crop, one backbone call per group; teacher: global only.
  assert seen == [
    [(2 * N, 32, 32, 3), (3 * N, 16, 16, 3)],
    [(2 * N, 32, 32, 3)],
  ]


def test_multicrop_groups_from_the_pipeline():
  from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

  config = mt.load_config("dino_quick", "smoke")
  config.train.batch_size = 4
  batch = next(iter(pipeline.train_batches(config)))
  assert batch["global_crops"].shape == (4, 2, 32, 32, 3)
  assert batch["local_crops"].shape == (4, 4, 16, 16, 3)
  assert multicrop.view_groups(config, method="dino") == (
    "global_crops",
    ("local_crops",),
  )


def test_loss_matches_numpy_on_the_method_logits(setup):
  config, _, batch, params, extra, _ = setup
  step = 3
  value, (new_extra, metrics) = _run(setup, step)[:2]
  backbone = models.backbone(config.model)
  head = prototype_heads.DINOHead(
    num_prototypes=16, hidden_dim=32, bottleneck_dim=8, use_bn=True
  )
  s_out, _ = multicrop.apply_backbone_and_head(
    backbone,
    head,
    params,
    extra["batch_stats"],
    [batch["global_crops"], batch["local_crops"]],
  )
  t_out, _ = multicrop.apply_backbone_and_head(
    backbone,
    head,
    extra["teacher"]["params"],
    extra["teacher"]["batch_stats"],
    [batch["global_crops"]],
  )
  s = np.asarray(s_out["logits"], np.float64).reshape(5, N, 16)
  t = np.asarray(t_out["logits"], np.float64).reshape(2, N, 16)
  temp = 0.04 + (0.07 - 0.04) * step / (WARMUP - 1)

  def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)

  q = softmax(t / temp)  # centre is 0 at init
  log_p = np.log(softmax(s / 0.1))
  terms = [
    np.mean(-np.sum(q[i] * log_p[j], -1))
    for i in range(2)
    for j in range(5)
    if i != j
  ]
  np.testing.assert_allclose(value, np.mean(terms), rtol=1e-4)
  np.testing.assert_allclose(metrics["teacher_temp"], temp, rtol=1e-6)
  # Centre: 0.9 * 0 + 0.1 * mean teacher logit over views and batch.
  np.testing.assert_allclose(
    new_extra["center"], 0.1 * t.reshape(-1, 16).mean(0), rtol=1e-4, atol=1e-7
  )
  entropy = -np.sum(q * np.log(q), -1).mean()
  np.testing.assert_allclose(metrics["teacher_entropy"], entropy, rtol=1e-4)
  assert metrics["z_std"] > 0


def test_centre_update_closed_form(setup):
  _, method, batch, params, extra, _ = setup
  center = jnp.linspace(-1.0, 1.0, 16)
  e0 = {**extra, "center": center}
  fn = jax.jit(
    lambda e: method.loss(params, e, batch, jax.random.key(0), 0)[1][0][
      "center"
    ]
  )
  zero = np.asarray(fn({**extra, "center": jnp.zeros(16)}))
  # c' = m c + (1 - m) mean(t): linear in c with slope m = 0.9.
  np.testing.assert_allclose(
    fn(e0), 0.9 * np.asarray(center) + zero, rtol=1e-5, atol=1e-6
  )


def test_teacher_temperature_schedule_closed_form(setup):
  _, _method, _batch, _params, _extra, _ = setup
  temp = jax.jit(
    lambda s: dino.losses.dino_teacher_temp(
      s, warmup=0.04, final=0.07, warmup_epochs=WARMUP
    )
  )
  expected = np.concatenate(
    [np.linspace(0.04, 0.07, WARMUP), np.full(TOTAL - WARMUP, 0.07)]
  )
  for step in (0, 1, 5, WARMUP - 1, WARMUP, TOTAL - 1):
    np.testing.assert_allclose(temp(step), expected[step], rtol=1e-6)
  # The method logs the same schedule.
  for step in (0, 7, 50):
    np.testing.assert_allclose(
      _run(setup, step)[1][1]["teacher_temp"], expected[step], rtol=1e-6
    )


def test_teacher_ema_closed_form_params_and_batch_stats(setup):
  _, method, _, params, extra, _ = setup
  update = jax.jit(method.update_extra)
  student_stats = jax.tree.map(lambda s: s + 1.0, extra["batch_stats"])
  e = {**extra, "batch_stats": student_stats}
  for step in (0, 30, 50, TOTAL - 1, TOTAL + 5):
    m = 1 - (1 - 0.996) * (np.cos(np.pi * min(step, TOTAL) / TOTAL) + 1) / 2
    new = update(params, e, step)
    want = jax.tree.map(
      lambda t, o, m=m: m * np.asarray(t) + (1 - m) * np.asarray(o),
      extra["teacher"]["params"],
      params,
    )
    jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
      new["teacher"]["params"],
      want,
    )
    want = jax.tree.map(
      lambda t, o, m=m: m * np.asarray(t) + (1 - m) * np.asarray(o),
      extra["teacher"]["batch_stats"],
      student_stats,
    )
    jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
      new["teacher"]["batch_stats"],
      want,
    )
    np.testing.assert_array_equal(new["center"], e["center"])
  np.testing.assert_allclose(
    _run(setup, 50)[1][1]["ema_momentum"], 0.998, rtol=1e-6
  )


def test_no_gradient_reaches_the_teacher(setup):
  _, _, (g_student, g_teacher) = _run(setup, FREEZE + 1)
  for leaf in jax.tree.leaves(g_teacher):
    np.testing.assert_array_equal(leaf, 0)
  assert (
    max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g_student["backbone"]))
    > 0
  )


def test_last_layer_labels_follow_get_params_groups():
  config = _config(norm_last_layer=False)
  batch = mt.multicrop_batch(config, N)
  method, params, _ = mt.build_and_init(config, batch, jit=True)
  labels = method.param_labels(params)
  # The whole last layer, its 1-d weight-norm gain too (official weight_g
  # is [K, 1]: regularised), is its own group with weight decay.
  assert labels["head"]["last_layer"] == {
    "kernel": "last_layer",
    "scale": "last_layer",
  }
  assert method.param_groups["last_layer"] == base.ParamGroup(
    frozen_until_step=FREEZE
  )
  assert labels["head"]["dense0"] == {"kernel": "decay", "bias": "no_decay"}


@pytest.mark.parametrize("name", ["adamw", "lars"])
def test_last_layer_frozen_by_the_optimizer_until_the_freeze_step(name):
  config = _config()
  config.optim.update(name=name, weight_decay=0.1, warmup_steps=0)
  config.optim.clip_grad_norm = 3.0
  batch = mt.multicrop_batch(config, N)
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  steps = FREEZE + 2
  history, state = mt.train(config, method, params, extra, batch, steps)
  # Bit-identical (no weight decay either) until the update of step FREEZE.
  mt.assert_moves_from(history, ("head", "last_layer"), FREEZE)
  # The rest of the head learns all along.
  mt.assert_moves_from(history, ("head", "dense0"), 0)
  # The group's inner optimizer has counted only the steps since unfreeze.
  groups = state.opt_state[-1].inner_states
  inner = groups["last_layer"].inner_state
  assert int(inner.step) == steps
  if name == "adamw":
    assert int(inner.inner_state[0].count) == steps - FREEZE


def test_features_are_student_backbone_in_inference_mode(setup):
  config, method, batch, params, extra, _ = setup
  feats = mt.assert_features_are_backbone_in_inference_mode(
    config,
    method,
    params,
    extra,
    batch["global_crops"][:, 0],
    rtol=1e-4,
    atol=1e-5,
  )
  assert feats.shape == (N, 128)


def test_vit_multicrop_interpolates_position_embeddings():
  config = _config()
  config.model.name = "vit_tiny"
  config.model.patch_size = 8
  config.data.views.local_crops.size = 16
  method = methods.build(config)
  assert not dino.head_use_bn(config)
  batch = mt.multicrop_batch(config, 2)
  params, extra = jax.eval_shape(method.init, jax.random.key(0), batch)
  assert params["backbone"]["pos_embed"].shape == (1, 16, 192)
  # Shapes only (a 12-block ViT is slow to compile on CPU): the local crops'
  # 2x2 grid and the 32-px eval images both go through.
  value, _ = jax.eval_shape(
    method.loss, params, extra, batch, jax.random.key(0), 0
  )
  assert value.shape == ()
  assert jax.eval_shape(
    method.features, params, extra, {"image": batch["global_crops"][:, 0]}
  ).shape == (2, 192)
  # Numerically: the resize is exact for a grid of the same size and
  # differentiable (local crops train the embedding table).
  pos = jax.random.normal(jax.random.key(0), (1, 16, 4))
  same = multicrop.fit_pos_embed({"pos_embed": pos}, (4, 4))["pos_embed"]
  np.testing.assert_array_equal(same, pos)
  grad = jax.grad(
    lambda p: jnp.sum(
      multicrop.fit_pos_embed({"pos_embed": p}, (2, 2))["pos_embed"] ** 2
    )
  )(pos)
  assert grad.shape == pos.shape and np.abs(np.asarray(grad)).max() > 0
  # A constant embedding stays constant.
  const = multicrop.fit_pos_embed({"pos_embed": jnp.ones((1, 16, 4))}, (2, 2))
  np.testing.assert_allclose(const["pos_embed"], 1, rtol=1e-5)
  assert const["pos_embed"].shape == (1, 4, 4)


def test_vit_patch_size_must_divide_every_crop():
  config = _config()
  config.model.name = "vit_tiny"
  config.model.patch_size = 16
  config.data.views.local_crops.size = 24
  with pytest.raises(
    ValueError,
    match=r"model.patch_size=16.*"
    r"data.views.local_crops.size=24",
  ):
    methods.build(config)
  config.data.views.local_crops.size = 16
  config.data.image_size = 40
  with pytest.raises(ValueError, match=r"data.image_size=40"):
    methods.build(config)


@pytest.mark.parametrize(
  "key,value",
  [
    ("teacher_temp", 0.0),
    ("student_temp", -1.0),
    ("center_momentum", 1.5),
    ("ema_momentum", -0.1),
    ("freeze_last_layer_steps", -1),
    ("teacher_temp_warmup_steps", -2),
    ("num_prototypes", 0),
  ],
)
def test_bad_method_values_name_the_key(key, value):
  with pytest.raises(ValueError, match=f"config.method.{key}"):
    methods.build(_config(**{key: value}))


def test_view_groups_need_one_largest_group():
  config = _config()
  config.data.views.local_crops.size = 32
  with pytest.raises(ValueError, match="largest size"):
    methods.build(config)
  config = _config()
  config.data.views = {"only": configs_lib.view_group(num_views=1)}
  with pytest.raises(ValueError, match="at least 2 views"):
    methods.build(config)
