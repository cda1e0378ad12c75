"""clip and siglip: losses against NumPy, the scale clip, global negatives."""

import jax
import jax.numpy as jnp
import methods_testing
import numpy as np
import pytest

from jaxssl import configs_lib, methods
from jaxssl.data import kinds
from jaxssl.methods import clip, common

NAMES = ("clip", "siglip")


@pytest.fixture(scope="module", autouse=True)
def _cache(data_caches):
  return data_caches


def _config(name, **method):
  config = methods_testing.load_config(f"{name}_quick", "smoke")
  config.train.progress_bar = False
  for key, value in method.items():
    config.method[key] = value
  return configs_lib.validate(config)


@pytest.fixture(scope="module", name="setups")
def _setups():
  out = {}
  for name in NAMES:
    config = _config(name)
    batch = next(kinds.get("image_text").train_batches(config))
    batch = {k: jnp.asarray(v) for k, v in batch.items()}
    method = methods.build(config)
    params, extra = jax.jit(method.init)(jax.random.key(0), batch)
    out[name] = config, batch, method, params, extra
  return out


def _np_embeddings(config, params, extra, batch):
  """Training-mode joint embeddings by hand, normalised in float64."""
  feats, _ = common.backbone(config).apply(
    {"params": params["image"], "batch_stats": extra["batch_stats"]},
    batch["image"],
    train=True,
    mutable=["batch_stats"],
  )
  text_feats = clip.text_tower(config).apply(
    {"params": params["text"]}, batch["tokens"], batch["is_pad"], train=False
  )["feats"]
  x = np.asarray(feats["feats"], np.float64)
  x = x @ np.asarray(params["image_proj"]["kernel"], np.float64)
  y = np.asarray(text_feats, np.float64)
  y = y @ np.asarray(params["text_proj"]["kernel"], np.float64)
  x /= np.linalg.norm(x, axis=1, keepdims=True)
  y /= np.linalg.norm(y, axis=1, keepdims=True)
  return x, y


def _np_info_nce(x, y, scale):
  logits = scale * x @ y.T

  def ce_rows(a):
    m = a.max(1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(a - m).sum(1))
    return np.mean(lse - np.diag(a))

  return 0.5 * (ce_rows(logits) + ce_rows(logits.T))


def _np_sigmoid(x, y, t, b):
  logits = t * x @ y.T + b
  z = 2 * np.eye(len(x)) - 1
  return np.sum(np.logaddexp(0.0, -z * logits)) / len(x)


def test_clip_loss_is_symmetric_info_nce_at_1_over_0_07(setups):
  config, batch, method, params, extra = setups["clip"]
  np.testing.assert_allclose(params["logit_scale"], np.log(1 / 0.07), 1e-6)
  value, (new_extra, metrics) = jax.jit(method.loss)(
    params, extra, batch, jax.random.key(1), 0
  )
  x, y = _np_embeddings(config, params, extra, batch)
  want = _np_info_nce(x, y, 1 / 0.07)
  np.testing.assert_allclose(value, want, rtol=1e-4)
  np.testing.assert_allclose(metrics["logit_scale"], 1 / 0.07, rtol=1e-6)
  hits = np.argmax(x @ y.T, 1) == np.arange(len(x))
  np.testing.assert_allclose(metrics["i2t_accuracy"], hits.mean())
  np.testing.assert_allclose(
    metrics["pos_cos"], np.sum(x * y, 1).mean(), rtol=1e-4
  )
  # BatchNorm statistics moved (training mode), and only they.
  assert jax.tree.structure(new_extra) == jax.tree.structure(extra)
  assert not np.allclose(
    jax.tree.leaves(new_extra)[0], jax.tree.leaves(extra)[0]
  )


def test_siglip_loss_is_the_sigmoid_loss_at_its_init(setups):
  config, batch, method, params, extra = setups["siglip"]
  # The method's defaults are the paper's (t = 10, b = -10); siglip_quick
  # starts b at log(1 / its batch of 128).
  assert configs_lib.base_config("siglip").method.b_init == -10.0
  assert config.method.b_init == -5.0
  np.testing.assert_allclose(params["t_prime"], np.log(10.0), rtol=1e-6)
  np.testing.assert_allclose(params["b"], -5.0)
  value, (_, metrics) = jax.jit(method.loss)(
    params, extra, batch, jax.random.key(1), 0
  )
  x, y = _np_embeddings(config, params, extra, batch)
  np.testing.assert_allclose(value, _np_sigmoid(x, y, 10.0, -5.0), rtol=1e-4)
  np.testing.assert_allclose(metrics["t"], 10.0, rtol=1e-6)
  # Another point: t = e^1, b = 2.
  moved = {**params, "t_prime": jnp.asarray(1.0), "b": jnp.asarray(2.0)}
  value = jax.jit(method.loss)(moved, extra, batch, jax.random.key(1), 0)[0]
  np.testing.assert_allclose(value, _np_sigmoid(x, y, np.e, 2.0), rtol=1e-4)


def test_clip_scale_is_clipped_at_100(setups):
  config, batch, method, params, extra = setups["clip"]
  loss = jax.jit(lambda p: method.loss(p, extra, batch, jax.random.key(1), 0))
  at_max = {**params, "logit_scale": jnp.asarray(np.log(100.0), jnp.float32)}
  above = {**params, "logit_scale": jnp.asarray(7.0, jnp.float32)}
  (v_max, _), (v_above, (_, m_above)) = loss(at_max), loss(above)
  np.testing.assert_allclose(m_above["logit_scale"], 100.0, rtol=1e-5)
  np.testing.assert_allclose(v_above, v_max, rtol=1e-6)
  x, y = _np_embeddings(config, params, extra, batch)
  np.testing.assert_allclose(v_above, _np_info_nce(x, y, 100.0), rtol=1e-4)
  grad = jax.jit(jax.grad(lambda p: loss(p)[0]))
  assert float(grad(above)["logit_scale"]) == 0.0  # clipped: no gradient
  assert float(grad(params)["logit_scale"]) != 0.0  # learned below the clip
  # The clip is a key: 20 instead of 100.
  config20 = _config("clip", logit_scale_max=20.0)
  method20 = methods.build(config20)
  _, (_, m20) = jax.jit(method20.loss)(
    above, extra, batch, jax.random.key(1), 0
  )
  np.testing.assert_allclose(m20["logit_scale"], 20.0, rtol=1e-5)


def _sharded(batch, devices=8):
  mesh = jax.make_mesh(
    (devices,), ("data",), axis_types=(jax.sharding.AxisType.Auto,)
  )
  spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  return jax.device_put(batch, spec)


@pytest.mark.parametrize("name", NAMES)
def test_one_device_equals_eight_global_negatives(setups, name):
  _, batch, method, params, extra = setups[name]

  def loss(p, b):
    return method.loss(p, extra, b, jax.random.key(2), 0)[0]

  value_grad = jax.jit(jax.value_and_grad(loss))
  one, g_one = value_grad(params, batch)
  eight, g_eight = value_grad(params, _sharded(batch))
  np.testing.assert_allclose(eight, one, rtol=1e-5)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-5),
    g_eight,
    g_one,
  )
  # Not the mean of eight per-shard losses (2 pairs each, few negatives).
  shards = [
    jax.jit(loss)(params, {k: v[i * 2 : (i + 1) * 2] for k, v in batch.items()})
    for i in range(8)
  ]
  assert abs(float(np.mean(shards)) - float(one)) > 1e-2


@pytest.mark.parametrize("name", NAMES)
def test_features_and_joint_embeddings(setups, name):
  config, batch, method, params, extra = setups[name]
  feats = jax.jit(method.features)(params, extra, batch)
  want = common.backbone(config).apply(
    {"params": params["image"], "batch_stats": extra["batch_stats"]},
    batch["image"],
    train=False,
  )["feats"]
  np.testing.assert_allclose(feats, want, rtol=1e-5, atol=1e-6)
  u_img = jax.jit(method.encode_image)(params, extra, batch)
  u_txt = jax.jit(method.encode_text)(params, extra, batch)
  for u in (u_img, u_txt):
    assert u.shape == (16, config.method.embed_dim) and u.dtype == jnp.float32
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, rtol=1e-5)
  img = np.asarray(want, np.float64) @ np.asarray(
    params["image_proj"]["kernel"], np.float64
  )
  img /= np.linalg.norm(img, axis=1, keepdims=True)
  np.testing.assert_allclose(u_img, img, rtol=1e-4, atol=1e-5)
  assert method.protocols == (
    "representation",
    "fewshot",
    "diagnostics",
    "zeroshot",
  )


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.temperature_init", 0.0, "config.method.temperature_init=0.0"),
    ("method.logit_scale_max", -1.0, "config.method.logit_scale_max=-1.0"),
    ("method.text_model", "gpt2_tiny", "config.method.text_model='gpt2_tiny'"),
    ("method.embed_dim", 0, "config.method.embed_dim=0"),
    ("model.name", "bert_tiny", "config.model.name='bert_tiny'"),
    ("data.seq_len", 33, "config.data.seq_len=33 exceeds the 32"),
  ],
)
def test_bad_config_names_the_key(key, value, match):
  config = methods_testing.load_config("clip_quick")
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(ValueError, match=match):
    configs_lib.validate(config)


def test_siglip_t_init_is_checked():
  config = methods_testing.load_config("siglip_quick")
  config.method.t_init = 0.0
  with pytest.raises(ValueError, match="config.method.t_init=0.0"):
    configs_lib.validate(config)
  with pytest.raises(ValueError, match="'image_text'"):
    configs_lib.base_config("clip", data_kind="views")


@pytest.mark.slow
# SigLIP's step differs from CLIP's only in the loss, whose 1 == 8 device
# value and gradient tests/losses checks; test_all_methods trains both.
@pytest.mark.parametrize("name", ["clip"])
def test_trains_and_one_device_equals_eight(name, tmp_path):
  import text_methods_testing as text_testing  # pylint: disable=g-import-not-at-top

  terms = ("train/logit_scale",) if name == "clip" else ("train/t", "train/b")
  text_testing.assert_trains_and_shards(
    name,
    tmp_path,
    ("train/loss", "train/grad_norm", "train/i2t_accuracy", *terms),
  )
