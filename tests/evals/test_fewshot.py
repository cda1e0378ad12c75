"""The few-shot protocol: balanced train-only subsets, sklearn scores."""

import dataclasses

import numpy as np
import pytest
from sklearn import linear_model

from jaxssl.evals import fewshot


def test_subsets_are_class_balanced_distinct_and_seeded():
  labels = np.repeat(np.arange(4), [30, 26, 40, 25])
  np.random.default_rng(0).shuffle(labels)
  for k in fewshot.SHOTS:
    subsets = fewshot.fewshot_subsets(labels, shots=k, draws=5, num_classes=4)
    assert subsets.shape == (5, 4 * k)
    for row in subsets:
      assert len(set(row.tolist())) == len(row)  # no example twice
      np.testing.assert_array_equal(np.bincount(labels[row], minlength=4), k)
    again = fewshot.fewshot_subsets(labels, shots=k, draws=5, num_classes=4)
    np.testing.assert_array_equal(subsets, again)  # fixed seeds
    assert len({tuple(r) for r in subsets.tolist()}) == 5  # draws differ
  # A class with 25 examples cannot give 26.
  none = fewshot.fewshot_subsets(labels, shots=26, draws=5, num_classes=4)
  assert none is None


def test_scores_match_sklearn_on_the_same_subsets():
  rng = np.random.default_rng(1)
  centers = rng.standard_normal((3, 6)) * 1.2
  bank_y = rng.integers(0, 3, 120)
  bank = (centers[bank_y] + rng.standard_normal((120, 6))).astype(np.float32)
  test_y = rng.integers(0, 3, 90)
  test = (centers[test_y] + rng.standard_normal((90, 6))).astype(np.float32)
  got = fewshot.fewshot_scores(
    bank, bank_y, test, test_y, num_classes=3, shots=(1, 5, 25), l2=0.1
  )
  # float64 reference: standardise with the whole bank, sklearn's
  # multinomial LogisticRegression (C = 1 / (l2 n)) on each draw.
  mean, std = bank.astype(np.float64).mean(0), bank.std(0, dtype=np.float64)
  sb, st = (bank - mean) / (std + 1e-6), (test - mean) / (std + 1e-6)
  for k in (1, 5, 25):
    accs = []
    for row in fewshot.fewshot_subsets(bank_y, shots=k, draws=5, num_classes=3):
      ref = linear_model.LogisticRegression(
        C=1 / (0.1 * len(row)), tol=1e-10, max_iter=10_000
      ).fit(sb[row], bank_y[row])
      accs.append(100.0 * np.mean(ref.predict(st) == test_y))
    assert got[f"eval/fewshot_{k}shot"] == pytest.approx(np.mean(accs), abs=1.2)
    assert got[f"eval/fewshot_{k}shot_std"] == pytest.approx(
      np.std(accs), abs=1.2
    )
  assert got["eval/fewshot_25shot"] > 70  # separable: far above chance
  assert got["eval/fewshot_1shot_std"] > 0  # the draws differ


def test_a_shot_count_the_bank_cannot_fill_is_left_out():
  rng = np.random.default_rng(2)
  bank_y = np.repeat(np.arange(2), 7)
  bank = rng.standard_normal((14, 3)).astype(np.float32)
  got = fewshot.fewshot_scores(bank, bank_y, bank, bank_y, num_classes=2)
  assert set(got) == {
    "eval/fewshot_1shot",
    "eval/fewshot_1shot_std",
    "eval/fewshot_5shot",
    "eval/fewshot_5shot_std",
  }


def test_protocol_fits_on_the_train_split_only(tmp_path, monkeypatch):
  # pylint: disable=g-import-not-at-top
  from jaxssl import configs_lib
  from jaxssl.data import kinds
  from jaxssl.evals import base
  from jaxssl.train import setup

  monkeypatch.setenv("JAXSSL_CACHE_DIR", str(tmp_path))
  config = configs_lib.load("quickstart", "smoke")
  config.eval.max_train_examples = 512
  configs_lib.validate(config)
  kind = kinds.get(config.data.kind)
  seen = {}

  def eval_batches(c, split, **kwargs):
    for batch in kind.eval_batches(c, split, **kwargs):
      seen.setdefault(split, []).append(batch["image"][batch["valid"]])
      yield batch

  run = setup.build(config, kind.batch_spec(config))
  state = run.init(run.init_key)
  info = kind.info(config)
  context = base.Context(
    config,
    run.method,
    run.mesh,
    info,
    dataclasses.replace(kind, eval_batches=eval_batches),
  )
  evaluator = fewshot.build(context)
  captured = {}
  real = fewshot.fewshot_scores

  def spy(bank_x, bank_y, test_x, test_y, **kwargs):
    captured["bank"] = len(bank_x)
    captured["test"] = len(test_x)
    return real(bank_x, bank_y, test_x, test_y, **kwargs)

  monkeypatch.setattr(fewshot, "fewshot_scores", spy)
  got = evaluator.evaluate(state)
  assert set(seen) == {config.data.train_split, config.data.eval_split}
  assert config.data.train_split != config.data.eval_split
  # The bank (what subsets are drawn from) is the train split's images.
  assert captured["bank"] == sum(len(x) for x in seen[config.data.train_split])
  assert captured["test"] == info.num_eval
  train = np.concatenate(seen[config.data.train_split]).reshape(
    captured["bank"], -1
  )
  test = np.concatenate(seen[config.data.eval_split]).reshape(
    captured["test"], -1
  )
  # No test image is a training image (the embedded splits are disjoint).
  shared = {r.tobytes() for r in train} & {r.tobytes() for r in test}
  assert not shared
  assert "eval/fewshot_1shot" in got
  assert all(0.0 <= v <= 100.0 for v in got.values())


def test_on_request_protocols_run_only_when_named():
  # pylint: disable=g-import-not-at-top
  from jaxssl import configs_lib, evals, methods

  config = configs_lib.load("quickstart", "smoke")
  method = methods.build(config)
  assert {"fewshot", "diagnostics"} <= set(method.protocols)
  assert evals.selected(config, method) == ("representation",)
  config.eval.protocols = ("representation", "fewshot", "diagnostics")
  assert evals.selected(config, method) == tuple(config.eval.protocols)
