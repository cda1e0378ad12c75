"""gpt: next-token loss on packed BPE windows, causal logits, checks."""

import jax
import numpy as np
import pytest
import text_methods_testing as text_testing
from text_methods_testing import tokenizer_cache  # noqa: F401

from jaxssl import configs_lib, methods
from jaxssl.methods import text_common


def _setup(**overrides):
  config = text_testing.config(
    "gpt",
    **{"method.dropout": 0.0, "method.attention_dropout": 0.0, **overrides},
  )
  batch = text_testing.batches(config)
  method = methods.build(config)
  params, extra = jax.jit(method.init)(jax.random.key(0), batch)
  return config, batch, method, params, extra


def test_loss_is_next_token_nll_without_padding():
  config, batch, method, params, extra = _setup()
  assert config.data.tokenizer == "bpe"
  # Pad the second half of row 0, as the split's last window is padded.
  is_pad = batch["is_pad"].at[0, 16:].set(True)
  batch = {**batch, "is_pad": is_pad}
  loss = jax.jit(method.loss)
  value, (_, metrics) = loss(params, extra, batch, jax.random.key(1), 0)
  logits = np.asarray(jax.jit(method.logits)(params, extra, batch), np.float64)
  t = np.asarray(batch["tokens"])
  log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  nll = -np.take_along_axis(log_p[:, :-1], t[:, 1:, None], -1)[..., 0]
  scored = ~np.asarray(is_pad)[:, 1:]
  np.testing.assert_allclose(value, nll[scored].mean(), rtol=1e-4)
  hit = logits[:, :-1].argmax(-1) == t[:, 1:]
  np.testing.assert_allclose(metrics["accuracy"], hit[scored].mean(), atol=1e-6)
  # What the padding holds cannot change the loss.
  noisy = {**batch, "tokens": batch["tokens"].at[0, 16:].set(7)}
  np.testing.assert_allclose(
    loss(params, extra, noisy, jax.random.key(1), 0)[0], value, rtol=1e-6
  )
  assert abs(float(value) - np.log(text_common.vocab_size(config))) < 0.5


def test_logits_at_a_position_never_see_later_tokens():
  _, batch, method, params, extra = _setup()
  logits = jax.jit(method.logits)
  a = logits(params, extra, batch)
  changed = {**batch, "tokens": batch["tokens"].at[:, 20].set(5)}
  b = logits(params, extra, changed)
  np.testing.assert_array_equal(a[:, :20], b[:, :20])
  rows = np.asarray(batch["tokens"][:, 20] != 5)
  assert (np.abs(np.asarray(a - b))[rows, 20:].max(-1) > 1e-5).all()
  assert method.protocols == ("next_token", "sentence")


def test_features_pool_the_non_padding_tokens():
  config, batch, method, params, extra = _setup()
  assert config.method.text_pool == "mean"
  is_pad = batch["is_pad"].at[:, 24:].set(True)
  batch = {**batch, "is_pad": is_pad}
  feats = jax.jit(method.features)(params, extra, batch)
  states = text_common.text_model(config).apply(
    {"params": params["model"]}, batch["tokens"], is_pad, train=False
  )["tokens"]
  np.testing.assert_allclose(
    feats, np.asarray(states)[:, :24].mean(1), rtol=1e-5, atol=1e-6
  )


def test_token_std_against_numpy():
  rng = np.random.default_rng(0)
  states = rng.normal(size=(3, 5, 4)).astype(np.float32)
  is_pad = np.zeros((3, 5), bool)
  is_pad[0, 3:] = True
  u = states / np.linalg.norm(states, axis=-1, keepdims=True)
  want = u[~is_pad].std(axis=0).mean()
  np.testing.assert_allclose(
    text_common.token_std(states, is_pad), want, rtol=1e-5
  )
  same = np.broadcast_to(states[:1, :1], states.shape)
  assert float(text_common.token_std(same, is_pad)) < 1e-6


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("model.name", "bert_tiny", "config.model.name='bert_tiny'.*'gpt'"),
    ("method.text_pool", "cls", "config.method.text_pool='cls'"),
    ("method.attention_dropout", -0.1, "config.method.attention_dropout"),
    ("data.seq_len", 65, "config.data.seq_len=65 exceeds the 64 positions"),
  ],
)
def test_bad_config_names_the_key(key, value, match):
  config = text_testing.config("gpt", **{"method.max_positions": 64})
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(ValueError, match=match):
    configs_lib.validate(config)


@pytest.mark.slow
def test_trains_and_one_device_equals_eight(tmp_path):
  rows = text_testing.assert_trains_and_shards(
    "gpt",
    tmp_path,
    ("train/loss", "train/accuracy", "train/grad_norm", "train/z_std"),
  )
  assert rows[4]["train/loss"] < rows[1]["train/loss"]
