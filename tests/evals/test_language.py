"""Protocols `mlm` and `next_token` against closed forms and NumPy."""

import math

import numpy as np
import pytest
import text_testing
from text_testing import V, text_toy  # noqa: F401 (fixture)

from jaxssl import configs_lib
from jaxssl.data.kinds import tokens

pytestmark = pytest.mark.usefixtures("text_toy")


def test_counted_bigram_perplexity_is_the_bigram_baseline():
  ev, state = text_testing.evaluator(
    "next_token", text_testing.config("counts")
  )
  got = ev.evaluate(state)["eval/perplexity"]
  base = ev.baselines(state)
  assert got == pytest.approx(base["eval/perplexity_bigram"], rel=1e-4)
  assert base["eval/perplexity_bigram"] < base["eval/perplexity_unigram"] < V


def test_uniform_logits_give_perplexity_v():
  ev, state = text_testing.evaluator(
    "next_token", text_testing.config("uniform")
  )
  assert ev.evaluate(state)["eval/perplexity"] == pytest.approx(V, rel=1e-5)
  ev, state = text_testing.evaluator("mlm", text_testing.config("uniform"))
  got = ev.evaluate(state)
  # argmax of all-equal logits is token 0, [PAD], never a masked target.
  assert got["eval/mlm_accuracy"] == 0.0
  assert got["eval/mlm_perplexity"] == pytest.approx(V, rel=1e-5)


def test_oracle_mlm_accuracy_is_100():
  ev, state = text_testing.evaluator("mlm", text_testing.config("oracle"))
  got = ev.evaluate(state)
  assert got["eval/mlm_accuracy"] == 100.0
  assert got["eval/mlm_perplexity"] == pytest.approx(1.0, abs=1e-6)


def _masked_eval(ev, c):
  w = tokens.windows(c, c.data.eval_split)
  inputs, targets, is_masked = map(np.asarray, ev.corrupt(w["tokens"]))
  return w, inputs, targets, is_masked


def test_mlm_unigram_baseline_against_numpy():
  c = text_testing.config("unigram")
  ev, state = text_testing.evaluator("mlm", c)
  base = ev.baselines(state)
  # NumPy float64: counts of the train split's non-special tokens.
  w = tokens.windows(c, c.data.train_split)
  specials = tokens.get_tokenizer(c)[1].ids()
  keep = ~w["is_pad"] & ~np.isin(w["tokens"], specials)
  counts = np.bincount(w["tokens"][keep], minlength=V).astype(np.float64)
  log_p = np.log((counts + 1) / (counts.sum() + V))
  _, _, targets, is_masked = _masked_eval(ev, c)
  t = targets[is_masked]
  assert base["eval/mlm_accuracy_unigram"] == pytest.approx(
    100 * np.mean(t == np.argmax(counts)), abs=1e-9
  )
  assert base["eval/mlm_perplexity_unigram"] == pytest.approx(
    np.exp(-log_p[t].mean()), rel=1e-5
  )
  # A model whose logits are those log-probabilities scores the same.
  got = ev.evaluate(state)
  assert got["eval/mlm_accuracy"] == base["eval/mlm_accuracy_unigram"]
  assert got["eval/mlm_perplexity"] == pytest.approx(
    base["eval/mlm_perplexity_unigram"], rel=1e-5
  )


def test_masking_statistics_and_copy_model_closed_form():
  c = text_testing.config("copy")
  ev, state = text_testing.evaluator("mlm", c)
  w, inputs, targets, is_masked = _masked_eval(ev, c)
  specials = tokens.get_tokenizer(c)[1].ids()
  selectable = ~w["is_pad"] & ~np.isin(w["tokens"], specials)
  assert not (is_masked & ~selectable).any()  # specials never selected
  m = is_masked.sum()
  assert abs(m / selectable.sum() - 0.15) < 0.01
  # Copying is right where the token was kept: 10%, + 10% / V drawn back.
  want = 10.0 + 10.0 / V
  got = ev.evaluate(state)["eval/mlm_accuracy"]
  assert got == pytest.approx(
    100 * np.mean(inputs[is_masked] == targets[is_masked])
  )
  assert abs(got - want) < 4 * 100 * math.sqrt(0.1 * 0.9 / m)


def test_masked_positions_are_fixed_per_window():
  c = text_testing.config("copy")
  ev, state = text_testing.evaluator("mlm", c)
  w = tokens.windows(c, c.data.eval_split)["tokens"][:64]
  _, _, first = map(np.asarray, ev.corrupt(w))
  # The same windows in another order and batch: the same positions.
  perm = np.random.default_rng(0).permutation(64)
  _, _, again = map(np.asarray, ev.corrupt(w[perm][:40]))
  np.testing.assert_array_equal(first[perm][:40], again)
  # And at every evaluation, whatever eval.batch_size.
  other, _ = text_testing.evaluator(
    "mlm", text_testing.config("copy", **{"eval.batch_size": 16})
  )
  assert ev.evaluate(state) == ev.evaluate(state) == other.evaluate(state)


def test_greedy_samples_follow_the_bigram_argmax():
  c = text_testing.config(
    "counts", **{"eval.sample_temperature": 0.0, "eval.sample_tokens": 40}
  )
  ev, state = text_testing.evaluator("next_token", c)
  prompts = ev.prompts()
  assert prompts.shape == (3, 16)
  out = ev.sample(state, prompts)
  table = text_testing.counted_bigram(c)
  last = prompts[:, -1]
  for t in range(40):  # past seq_len = 32 the window slides
    last = np.argmax(table[last], axis=-1)
    np.testing.assert_array_equal(out[:, t], last)
  texts = ev.texts(state)["next_token_samples"]
  tok = tokens.get_tokenizer(c)[0]
  assert tok.decode(prompts[0].tolist()) in texts
  assert texts.count("continuation:") == 3


def test_temperature_samples_are_seeded():
  c = text_testing.config("trained", **{"eval.num_samples": 2})
  ev, state = text_testing.evaluator("next_token", c)
  a, b = ev.texts(state), ev.texts(state)
  assert a == b and a["next_token_samples"].count("prompt:") == 2
  c = text_testing.config("trained", **{"eval.num_samples": 0})
  ev, state = text_testing.evaluator("next_token", c)
  assert ev.texts(state) == {}


def test_bad_settings_name_their_key():
  with pytest.raises(ValueError, match="data.tokenizer"):
    text_testing.evaluator(
      "mlm", text_testing.config("copy", **{"data.tokenizer": "bpe"})
    )
  for key, value in (
    ("eval.num_samples", -1),
    ("eval.sample_tokens", 0),
    ("eval.sample_temperature", -0.5),
    ("eval.min_paragraph_words", 1),
  ):
    c = configs_lib.base_config("text_toy")
    section, name = key.split(".")
    c[section][name] = value
    with pytest.raises(ValueError, match=key):
      configs_lib.validate(c)
