"""bert_mlm: BERT's corruption on real batches, the loss, hooks, checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import text_methods_testing as text_testing
from text_methods_testing import tokenizer_cache  # noqa: F401

from jaxssl import configs_lib, methods
from jaxssl.data.kinds import tokens
from jaxssl.methods import bert_mlm, text_common


def test_corruption_statistics_on_real_batches():
  """Through the real pipeline: ~15% of the non-special tokens selected,
  of those 80% [MASK], 10% another token, 10% kept; specials and padding
  never selected, unselected tokens untouched."""
  config = text_testing.config("bert_mlm", **{"data.seq_len": 64})
  specials = text_common.specials(config)
  vocab = text_common.vocab_size(config)
  corrupt = jax.jit(
    lambda rng, t, p: bert_mlm.corrupt(
      rng, t, p, specials=specials, vocab_size=vocab, rate=0.15
    )
  )
  counts = np.zeros(5)  # candidates, selected, [MASK], changed, kept
  for i, batch in enumerate(text_testing.batches(config, 40)):
    t, is_pad = np.asarray(batch["tokens"]), np.asarray(batch["is_pad"])
    inputs, targets, is_masked = map(
      np.asarray, corrupt(jax.random.key(i), batch["tokens"], batch["is_pad"])
    )
    np.testing.assert_array_equal(targets, t)
    special = np.isin(t, specials.ids())
    assert special[:, 0].all() and (t[:, 0] == specials.cls).all()
    assert not (is_masked & (special | is_pad)).any()
    np.testing.assert_array_equal(inputs[~is_masked], t[~is_masked])
    sel_in, sel_t = inputs[is_masked], t[is_masked]
    counts += [
      (~special & ~is_pad).sum(),
      is_masked.sum(),
      (sel_in == specials.mask).sum(),
      ((sel_in != specials.mask) & (sel_in != sel_t)).sum(),
      (sel_in == sel_t).sum(),
    ]
  candidates, selected, masked, changed, kept = counts
  assert candidates > 10_000
  assert abs(selected / candidates - 0.15) < 0.01
  # 4-sigma bands for ~1500+ selected positions.
  assert abs(masked / selected - 0.8) < 0.045
  assert abs(changed / selected - 0.1 * (1 - 1 / vocab)) < 0.035
  assert abs(kept / selected - 0.1) < 0.035


def test_loss_is_masked_lm_of_the_corrupted_batch():
  config = text_testing.config(
    "bert_mlm", **{"method.dropout": 0.0, "method.attention_dropout": 0.0}
  )
  batch = text_testing.batches(config)
  method = methods.build(config)
  params, extra = jax.jit(method.init)(jax.random.key(0), batch)
  rng = jax.random.key(3)
  value, (_, metrics) = jax.jit(method.loss)(params, extra, batch, rng, 0)
  # The same corruption (the loss's first split key), scored by hand.
  k_mask, _ = jax.random.split(rng)
  inputs, targets, is_masked = bert_mlm.corrupt(
    k_mask,
    batch["tokens"],
    batch["is_pad"],
    specials=text_common.specials(config),
    vocab_size=text_common.vocab_size(config),
    rate=0.15,
  )
  logits = np.asarray(
    jax.jit(method.logits)(params, extra, {**batch, "tokens": inputs}),
    np.float64,
  )
  log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  nll = -np.take_along_axis(log_p, np.asarray(targets)[..., None], -1)[..., 0]
  m = np.asarray(is_masked)
  assert m.sum() > 10
  np.testing.assert_allclose(value, nll[m].mean(), rtol=1e-4)
  hit = logits.argmax(-1) == np.asarray(targets)
  np.testing.assert_allclose(metrics["mlm_accuracy"], hit[m].mean(), atol=1e-6)
  assert abs(float(value) - np.log(text_common.vocab_size(config))) < 0.5


def test_logits_and_features_in_inference_mode():
  config = text_testing.config("bert_mlm")
  batch = text_testing.batches(config, split="test")
  method = methods.build(config)
  params, extra = method.init(jax.random.key(0), batch)
  vocab = text_common.vocab_size(config)
  logits = jax.jit(method.logits)(params, extra, batch)
  assert logits.shape == (*batch["tokens"].shape, vocab)
  assert logits.dtype == jnp.float32
  feats = jax.jit(method.features)(params, extra, batch)
  assert feats.shape == (len(batch["tokens"]), 128)
  # Inference mode: no dropout, rows independent of the rest of the batch.
  small = {k: v[:3] for k, v in batch.items()}
  np.testing.assert_allclose(
    method.features(params, extra, small), feats[:3], rtol=1e-5, atol=1e-5
  )
  np.testing.assert_allclose(
    method.logits(params, extra, small), logits[:3], rtol=1e-5, atol=1e-5
  )
  assert method.protocols == ("mlm", "sentence")


def test_vocabulary_comes_from_a_tokenizer_path(tmp_path):
  config = text_testing.config("bert_mlm")
  tok, _ = tokens.get_tokenizer(config)
  path = tmp_path / "tokenizer.json"
  tok.save(str(path))
  config.data.tokenizer_path = str(path)
  config.data.vocab_size = 64  # ignored: the file's vocabulary counts
  assert text_common.text_model(config).vocab_size == tok.get_vocab_size()
  assert tok.get_vocab_size() > 64


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("data.tokenizer", "bpe", "config.data.tokenizer='bpe'"),
    ("method.mask_rate", 0.0, "config.method.mask_rate=0.0"),
    ("model.name", "gpt2_tiny", "config.model.name='gpt2_tiny'"),
    ("model.name", "tiny_resnet", "config.model.name='tiny_resnet'"),
    ("method.dropout", 1.0, "config.method.dropout=1.0"),
    ("method.text_pool", "max", "config.method.text_pool='max'"),
    ("method.max_positions", -1, "config.method.max_positions=-1"),
    ("data.seq_len", 100, "config.data.seq_len=100.*config.method.max_pos"),
  ],
)
def test_bad_config_names_the_key(key, value, match):
  config = text_testing.config("bert_mlm", **{"method.max_positions": 64})
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(ValueError, match=match):
    configs_lib.validate(config)


def test_seq_len_beyond_the_model_positions_names_both():
  config = text_testing.config("bert_mlm", **{"method.max_positions": 0})
  config.data.seq_len = 513
  with pytest.raises(
    ValueError,
    match=r"config.data.seq_len=513 exceeds the 512 positions of "
    r"config.model.name='bert_tiny' \(config.method.max_positions=0",
  ):
    configs_lib.validate(config)


@pytest.mark.slow
def test_trains_and_one_device_equals_eight(tmp_path):
  rows = text_testing.assert_trains_and_shards(
    "bert_mlm",
    tmp_path,
    ("train/loss", "train/mlm_accuracy", "train/grad_norm", "train/z_std"),
  )
  assert rows[4]["train/loss"] < rows[1]["train/loss"]
