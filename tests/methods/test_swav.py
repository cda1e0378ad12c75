"""SwAV method: multi-crop wiring, Sinkhorn codes, queue and freezing.

One tiny config (tiny_resnet, 2 global 32-px + 2 local 16-px crops, 12
prototypes, a queue of 16) and one jitted loss+gradient function shared by
the tests. The loss is checked against an independent numpy SwAV (the
official `distributed_sinkhorn` written out, codes from the global crops,
swapped prediction over every other crop), with and without the queue.
"""

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxssl import configs_lib, losses, methods
from jaxssl.methods import common, multicrop, swav

N = 8
K = 12
QUEUE = 16
QUEUE_START = 3
FREEZE = 2


def _config(**method):
  c = configs_lib.base_config("swav")
  c.data.views = {
    "global_crops": configs_lib.view_group(num_views=2, size=32),
    "local_crops": configs_lib.view_group(num_views=2, size=16),
  }
  c.model.name = "tiny_resnet"
  c.model.proj_hidden_dim, c.model.proj_dim = 16, 8
  c.method.update(
    num_prototypes=K,
    temperature=0.1,
    iterations=3,
    epsilon=0.05,
    queue_size=QUEUE,
    queue_start_steps=QUEUE_START,
    freeze_last_layer_steps=FREEZE,
  )
  c.method.update(method)
  return configs_lib.validate(c)


@pytest.fixture(scope="module")
def setup():
  config = _config()
  batch = mt.multicrop_batch(config, N)
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  queue = jax.random.normal(jax.random.key(3), extra["queue"].shape)
  extra["queue"] = queue / jnp.linalg.norm(queue, axis=-1, keepdims=True)

  @jax.jit
  def run(params, extra, batch, step):
    (value, aux), grads = jax.value_and_grad(method.loss, has_aux=True)(
      params, extra, batch, jax.random.key(0), step
    )
    return value, aux, grads

  @jax.jit
  def scores(params, extra, batch):
    out, _ = multicrop.apply_backbone_and_head(
      common.backbone(config),
      swav.prototype_heads.SwAVHead(common.projector(config), K),
      params,
      extra["batch_stats"],
      [batch["global_crops"], batch["local_crops"]],
    )
    return out["scores"].reshape(4, N, K), out["z"].reshape(4, N, -1)

  return config, method, batch, params, extra, run, scores


def _np_sinkhorn(scores, eps=0.05, iters=3):
  """facebookresearch/swav `distributed_sinkhorn`, one process, float64."""
  q = np.exp(np.asarray(scores, np.float64) / eps).T  # [k, b]
  k, b = q.shape
  q /= q.sum()
  for _ in range(iters):
    q /= q.sum(axis=1, keepdims=True)
    q /= k
    q /= q.sum(axis=0, keepdims=True)
    q /= b
  return (q * b).T


def _np_swav(codes, scores, temperature=0.1):
  s = np.asarray(scores, np.float64) / temperature
  log_p = s - s.max(-1, keepdims=True)
  log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
  total = 0.0
  for a in range(len(codes)):
    others = [b for b in range(len(s)) if b != a]
    total += np.mean(
      [np.mean(-np.sum(codes[a] * log_p[b], -1)) for b in others]
    )
  return total / len(codes)


def test_extra_layout(setup):
  _, _, _, params, extra, _, _ = setup
  assert sorted(extra) == ["batch_stats", "queue"]
  assert extra["queue"].shape == (2, QUEUE, 8)
  assert params["head"]["prototypes"]["kernel"].shape == (8, K)
  assert swav.queue_start(_config(), N) == QUEUE_START
  assert swav.queue_start(_config(queue_start_steps=0), N) == QUEUE // N
  no_queue = methods.build(_config(queue_size=0))
  _, extra = jax.eval_shape(
    no_queue.init, jax.random.key(0), mt.multicrop_batch(_config(), N)
  )
  assert sorted(extra) == ["batch_stats"]


def test_multicrop_views_reach_the_backbone_at_their_size(setup, monkeypatch):
  _, method, batch, params, extra, _, _ = setup
  seen = mt.backbone_calls(monkeypatch, method, params, extra, batch)
  assert seen == [[(2 * N, 32, 32, 3), (2 * N, 16, 16, 3)]]


def test_loss_before_the_queue_matches_numpy_and_losses_swav(setup):
  _, _, batch, params, extra, run, scores = setup
  s, z = scores(params, extra, batch)
  value, (new_extra, metrics), _ = run(params, extra, batch, QUEUE_START - 1)
  codes = np.stack([_np_sinkhorn(s[a]) for a in range(2)])
  np.testing.assert_allclose(value, _np_swav(codes, s), rtol=1e-4)
  np.testing.assert_allclose(value, losses.swav(s[:2], s[2:]), rtol=1e-5)
  assert metrics["queue_in_use"] == 0
  entropy = -np.sum(codes * np.log(codes), -1).mean()
  np.testing.assert_allclose(metrics["code_entropy"], entropy, rtol=1e-4)
  # The queue is filled every step, newest first: [z_global; old queue].
  want = np.concatenate(
    [np.asarray(z[:2]), np.asarray(extra["queue"])], axis=1
  )[:, :QUEUE]
  np.testing.assert_allclose(new_extra["queue"], want, rtol=1e-5, atol=1e-6)


def test_loss_with_the_queue_matches_numpy(setup):
  _, _, batch, params, extra, run, scores = setup
  s, _ = scores(params, extra, batch)
  value, (_, metrics), _ = run(params, extra, batch, QUEUE_START)
  assert metrics["queue_in_use"] == 1
  v = np.asarray(params["head"]["prototypes"]["kernel"], np.float64)
  prototypes = v / np.linalg.norm(v, axis=0, keepdims=True)
  codes = []
  for a in range(2):
    queue_scores = np.asarray(extra["queue"][a], np.float64) @ prototypes
    codes.append(_np_sinkhorn(np.concatenate([queue_scores, s[a]]))[-N:])
  np.testing.assert_allclose(value, _np_swav(np.stack(codes), s), rtol=1e-4)
  no_queue = _np_swav(np.stack([_np_sinkhorn(s[a]) for a in range(2)]), s)
  assert abs(float(value) - no_queue) > 1e-4  # The queue changed the codes.


def test_swapped_prediction_equals_losses_swav():
  s = jax.random.normal(jax.random.key(0), (5, 6, 4))
  codes = jax.vmap(losses.sinkhorn)(s[:2])
  np.testing.assert_allclose(
    swav.swapped_prediction(codes, s, 0.1), losses.swav(s[:2], s[2:]), rtol=1e-5
  )


def test_prototypes_frozen_by_the_optimizer_until_the_freeze_step():
  # LARS with a large weight decay: under the old stop-gradient the decay
  # shrank the frozen kernel; the optimizer mask keeps it bit-identical.
  config = _config()
  config.optim.update(name="lars", weight_decay=0.1, warmup_steps=0)
  batch = mt.multicrop_batch(config, N)
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  labels = method.param_labels(params)
  assert labels["head"]["prototypes"] == {"kernel": "prototypes"}
  assert method.param_groups["prototypes"].frozen_until_step == FREEZE
  assert method.param_groups["prototypes"].weight_decay
  history, _ = mt.train(config, method, params, extra, batch, FREEZE + 2)
  mt.assert_moves_from(history, ("head", "prototypes"), FREEZE)
  mt.assert_moves_from(history, ("head", "projector", "dense0"), 0)


def test_prototype_scale_does_not_change_the_loss(setup):
  _, _, batch, params, extra, run, _ = setup
  scaled = jax.tree.map(lambda x: x, params)
  scaled["head"]["prototypes"]["kernel"] = params["head"]["prototypes"][
    "kernel"
  ] * jnp.arange(1.0, K + 1.0)
  for step in (0, QUEUE_START):
    np.testing.assert_allclose(
      run(scaled, extra, batch, step)[0],
      run(params, extra, batch, step)[0],
      rtol=1e-5,
    )


def test_sinkhorn_sees_the_global_batch_when_sharded(setup, devices):
  _, method, batch, params, extra, run, _ = setup
  mesh = jax.sharding.Mesh(np.array(devices), ("data",))
  sharded = jax.device_put(batch, NamedSharding(mesh, P("data")))
  step = QUEUE_START
  want = run(params, extra, batch, step)[0]
  replicated = NamedSharding(mesh, P())
  p, e = jax.device_put((params, extra), replicated)
  got = jax.jit(
    lambda p, e, b: method.loss(p, e, b, jax.random.key(0), step)[0]
  )(p, e, sharded)
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_features_are_backbone_in_inference_mode(setup):
  config, method, batch, params, extra, _, _ = setup
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


def test_quick_config_builds_with_multicrop():
  config = mt.load_config("swav_quick")
  assert multicrop.view_groups(config, method="swav") == (
    "global_crops",
    ("local_crops",),
  )
  methods.build(config)


@pytest.mark.parametrize(
  "key,value",
  [
    ("iterations", 0),
    ("epsilon", 0.0),
    ("queue_size", -1),
    ("queue_start_steps", -1),
    ("freeze_last_layer_steps", -1),
    ("num_prototypes", 0),
  ],
)
def test_bad_method_values_name_the_key(key, value):
  with pytest.raises(ValueError, match=f"config.method.{key}"):
    methods.build(_config(**{key: value}))


def test_grouped_batch_norm_is_each_image_group_on_its_own(setup):
  # method.bn_groups=G: the forward of the whole batch equals G forwards,
  # one per group of N/G images with all their crops, each with its own
  # BatchNorm statistics (official SwAV's SyncBatchNorm process groups).
  config, _, batch, params, extra, _, _ = setup
  groups = 2
  grouped = _config(bn_groups=groups)
  views = [batch["global_crops"], batch["local_crops"]]

  def forward(cfg, views, by_image):
    backbone = multicrop.grouped(cfg, common.backbone(cfg))
    head = swav.prototype_heads.SwAVHead(
      multicrop.grouped(cfg, common.projector(cfg)), K
    )
    out, stats = multicrop.apply_backbone_and_head(
      backbone, head, params, extra["batch_stats"], views, by_image=by_image
    )
    return out["scores"].reshape(4, -1, K), stats

  whole, stats = jax.jit(lambda v: forward(grouped, v, True))(views)
  ungrouped, plain_stats = jax.jit(lambda v: forward(config, v, False))(views)
  assert not np.allclose(whole, ungrouped, atol=1e-4)
  m = N // groups
  for g in range(groups):
    part = [v[g * m : (g + 1) * m] for v in views]
    alone, _ = jax.jit(lambda v: forward(config, v, False))(part)
    np.testing.assert_allclose(whole[:, g * m : (g + 1) * m], alone, atol=1e-4)
  # One group, image-major rows: the same as the view-major forward.
  one, _ = jax.jit(lambda v: forward(config, v, True))(views)
  np.testing.assert_allclose(one, ungrouped, atol=1e-5)
  assert jax.tree.structure(stats) == jax.tree.structure(plain_stats)


def test_bn_groups_must_divide_the_batch():
  with pytest.raises(ValueError, match="config.method.bn_groups=3 must divide"):
    _config(bn_groups=3)  # batch 256
  assert configs_lib.load("swav_imagenet").method.bn_groups == 8
