"""simcse: two dropout passes, InfoNCE over the global batch, features."""

import chex
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


# Supervised SimCSE on (anchor, positive, hard negative) pairs ---------------

_WORDS = (
  *("river", "stone", "light", "cloud", "paper", "garden", "window"),
  *("music", "engine", "forest", "silver", "winter", "market", "letter"),
  *("bridge", "candle", "harbor", "lantern", "meadow", "orchard", "pillow"),
)


def _fake_wordnet(root):
  """A data.noun / data.verb pair of files: 160 synsets of 3 topics, each
  gloss a definition of 8-13 words and one or two quoted examples."""
  rng = np.random.default_rng(0)
  words = lambda k: " ".join(rng.choice(_WORDS, size=k))
  header = "  1 This software and database is being provided to you\n"
  for pos, topics in (("noun", (5, 18)), ("verb", (38,))):
    lines = []
    for i in range(80):
      examples = "".join(
        f'; "{words(int(rng.integers(4, 9)))}"' for _ in range(1 + i % 2)
      )
      lines.append(
        f"{i:08d} {topics[i % len(topics)]} {pos[0]} 01 w{i} 0 000 | "
        f"{words(int(rng.integers(8, 14)))}{examples}  "
      )
    (root / f"data.{pos}").write_text(header + "\n".join(lines) + "\n")
  return str(root)


@pytest.fixture(scope="module")
def wordnet_dir(tmp_path_factory):
  return _fake_wordnet(tmp_path_factory.mktemp("wordnet"))


@pytest.fixture(scope="module")
def sup_setup(wordnet_dir):
  config = text_testing.config("simcse_sup", **{"data.data_dir": wordnet_dir})
  batch = text_testing.batches(config)
  method = methods.build(config)
  params, extra = jax.jit(method.init)(jax.random.key(0), batch)
  return config, batch, method, params, extra


def test_supervised_loss_is_eq5_over_positives_and_hard_negatives(sup_setup):
  config, batch, method, params, extra = sup_setup
  assert batch["negative_tokens"].shape == batch["tokens"].shape
  rng = jax.random.key(3)
  value, (_, metrics) = jax.jit(method.loss)(params, extra, batch, rng, 0)
  # One pass in training mode over [anchors; positives; negatives].
  feats = text_common.text_model(config).apply(
    {"params": params["model"]},
    np.concatenate(
      [batch[p + "tokens"] for p in ("", "positive_", "negative_")]
    ),
    np.concatenate(
      [batch[p + "is_pad"] for p in ("", "positive_", "negative_")]
    ),
    train=True,
    rngs={"dropout": rng},
  )["feats"]
  z = np.asarray(text.Pooler().apply({"params": params["pooler"]}, feats))
  z = z.astype(np.float64)
  z /= np.linalg.norm(z, axis=1, keepdims=True)
  h, pos, neg = np.split(z, 3)
  n = len(h)
  ref, hits = [], []
  for i in range(n):
    s = np.concatenate([h[i] @ pos.T, h[i] @ neg.T]) / 0.05
    ref.append(np.log(np.sum(np.exp(s - s.max()))) + s.max() - s[i])
    hits.append(np.argmax(s) == i)
  np.testing.assert_allclose(value, np.mean(ref), rtol=1e-4)
  np.testing.assert_allclose(metrics["accuracy"], np.mean(hits), atol=1e-6)
  np.testing.assert_allclose(
    metrics["neg_cos"], np.mean(np.sum(h * neg, 1)), rtol=1e-4, atol=1e-5
  )
  np.testing.assert_allclose(
    metrics["pos_cos"], np.mean(np.sum(h * pos, 1)), rtol=1e-4, atol=1e-5
  )
  # Without hard negatives, the denominators hold the positives only.
  pairs = {k: v for k, v in batch.items() if not k.startswith("negative_")}
  two, _ = jax.jit(method.loss)(params, extra, pairs, rng, 0)
  assert float(two) < float(value)


def test_supervised_loss_sees_the_global_batch_on_eight_devices(sup_setup):
  _, batch, method, params, extra = sup_setup
  loss = lambda p, b: method.loss(p, extra, b, jax.random.key(4), 0)[0]
  value_and_grad = jax.jit(jax.value_and_grad(loss))
  one = value_and_grad(params, batch)
  eight = value_and_grad(params, text_testing.sharded(batch))
  chex.assert_trees_all_close(eight, one, rtol=2e-4, atol=1e-6)
  # Not the mean of eight per-shard losses (fewer negatives each).
  shards = [
    jax.jit(loss)(params, {k: v[i * 2 : (i + 1) * 2] for k, v in batch.items()})
    for i in range(8)
  ]
  assert abs(float(np.mean(shards)) - float(one[0])) > 1e-2


def test_supervised_features_are_the_pooler_mlp_over_cls(sup_setup):
  config, batch, method, params, extra = sup_setup
  feats = jax.jit(method.features)(params, extra, batch)
  cls = text_common.text_model(config).apply(
    {"params": params["model"]}, batch["tokens"], batch["is_pad"], train=False
  )["tokens"][:, 0]
  want = text.Pooler().apply({"params": params["pooler"]}, cls)
  np.testing.assert_allclose(feats, want, rtol=1e-5, atol=1e-6)
  assert float(jnp.abs(feats).max()) <= 1.0  # tanh'd


@pytest.mark.parametrize(
  "overrides,match",
  [
    (
      {"data.name": "embedded_text"},
      r"config.method.supervised=True needs sentence pairs: "
      r"config.data.name='embedded_text'",
    ),
    (
      {"method.supervised": False},
      r"config.data.name='wordnet_pairs' gives sentence pairs: set "
      r"config.method.supervised=True",
    ),
  ],
)
def test_supervised_needs_a_pair_source(wordnet_dir, overrides, match):
  with pytest.raises(ValueError, match=match):
    text_testing.config(
      "simcse_sup", **{"data.data_dir": wordnet_dir, **overrides}
    )
  # Supervised, dropout 0 is allowed: the pair is the augmentation.
  text_testing.config(
    "simcse_sup", **{"data.data_dir": wordnet_dir, "method.dropout": 0.0}
  )


@pytest.mark.slow
def test_supervised_trains_and_one_device_equals_eight(tmp_path, wordnet_dir):
  text_testing.assert_trains_and_shards(
    "simcse_sup",
    tmp_path,
    ("train/loss", "train/grad_norm", "train/accuracy", "train/neg_cos"),
    **{"data.data_dir": wordnet_dir},
  )
