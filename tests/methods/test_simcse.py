"""simcse: two dropout passes, InfoNCE over the global batch, features."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import text_methods_testing as text_testing
from text_methods_testing import tokenizer_cache  # noqa: F401

from jaxssl import configs_lib, methods
from jaxssl.methods import text_common
from jaxssl.models import text


@pytest.fixture(scope="module")
def setup():
  config = text_testing.config("simcse")
  batch = text_testing.batches(config)
  method = methods.build(config)
  params, extra = jax.jit(method.init)(jax.random.key(0), batch)
  return config, batch, method, params, extra


def _passes(config, params, batch, rng):
  """The two pooled projections the loss should see, by hand."""
  model = text_common.text_model(config)
  out = []
  for key in jax.random.split(rng):
    feats = model.apply(
      {"params": params["model"]},
      batch["tokens"],
      batch["is_pad"],
      train=True,
      rngs={"dropout": key},
    )["feats"]
    z = text.Pooler().apply({"params": params["pooler"]}, feats)
    out.append(np.asarray(z, np.float64))
  return out


def test_loss_is_cosine_info_nce_of_two_dropout_passes(setup):
  config, batch, method, params, extra = setup
  rng = jax.random.key(5)
  value, (_, metrics) = jax.jit(method.loss)(params, extra, batch, rng, 0)
  z1, z2 = _passes(config, params, batch, rng)
  assert not np.allclose(z1, z2)  # independent dropout
  u1 = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
  u2 = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
  s = u1 @ u2.T / 0.05  # official cl_forward: z1 queries, z2 keys
  log_p = s - np.log(np.exp(s - s.max(1, keepdims=True)).sum(1))[:, None]
  log_p -= s.max(1, keepdims=True)
  np.testing.assert_allclose(value, -np.diag(log_p).mean(), rtol=1e-4)
  np.testing.assert_allclose(
    metrics["pos_cos"], np.sum(u1 * u2, 1).mean(), rtol=1e-4
  )


def test_loss_sees_the_global_batch_on_eight_devices(setup):
  _, batch, method, params, extra = setup
  loss = jax.jit(lambda p, b: method.loss(p, extra, b, jax.random.key(2), 0)[0])
  one = loss(params, batch)
  eight = loss(params, text_testing.sharded(batch))
  np.testing.assert_allclose(eight, one, rtol=1e-5)
  # Not the mean of eight per-shard losses (fewer negatives each).
  shards = [
    loss(params, {k: v[i * 2 : (i + 1) * 2] for k, v in batch.items()})
    for i in range(8)
  ]
  assert abs(float(np.mean(shards)) - float(one)) > 1e-2


def test_features_are_cls_before_the_pooler(setup):
  config, batch, method, params, extra = setup
  feats = jax.jit(method.features)(params, extra, batch)
  states = text_common.text_model(config).apply(
    {"params": params["model"]}, batch["tokens"], batch["is_pad"], train=False
  )["tokens"]
  np.testing.assert_allclose(feats, states[:, 0], rtol=1e-5, atol=1e-6)
  assert float(jnp.abs(feats).max()) > 1.0  # LayerNorm'd, not tanh'd
  assert method.logits is None and method.protocols == ("sentence",)


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.temperature", 0.0, "config.method.temperature=0.0"),
    ("method.dropout", 0.0, "config.method.dropout=0.0"),
    ("model.name", "gpt2_tiny", "config.model.name='gpt2_tiny'"),
    ("data.seq_len", 65, "config.data.seq_len=65 exceeds the 64"),
  ],
)
def test_bad_config_names_the_key(key, value, match):
  config = text_testing.config("simcse", **{"method.max_positions": 64})
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(ValueError, match=match):
    configs_lib.validate(config)


@pytest.mark.slow
def test_trains_and_one_device_equals_eight(tmp_path):
  text_testing.assert_trains_and_shards(
    "simcse",
    tmp_path,
    ("train/loss", "train/grad_norm", "train/z_std", "train/pos_cos"),
  )
