"""Baselines: scored once per protocol, merged when a protocol is added."""

import json
import os

import pytest

from jaxssl import configs_lib, train
from jaxssl.train import baselines as baselines_lib


class _Evaluator:
  def __init__(self, name, calls):
    self.name, self.calls = name, calls

  def baselines(self, state):
    self.calls.append((self.name, state))
    return {f"eval/{self.name}_random_init": float(len(self.name))}


def test_scores_only_missing_protocols_and_merges(tmp_path):
  workdir, calls, inits = str(tmp_path), [], []

  def init():
    inits.append(1)
    return "state0"

  a = {"a": _Evaluator("a", calls)}
  assert baselines_lib.ensure(workdir, a, init, log=lambda _: None) == {
    "eval/a_random_init": 1.0
  }
  assert calls == [("a", "state0")] and len(inits) == 1
  # Nothing missing: no init, no scoring.
  assert baselines_lib.ensure(workdir, a, init, log=lambda _: None)
  assert len(inits) == 1 and len(calls) == 1
  # A protocol added later: only it is scored, and merged.
  both = {"a": a["a"], "bb": _Evaluator("bb", calls)}
  got = baselines_lib.ensure(workdir, both, init, log=lambda _: None)
  assert got == {"eval/a_random_init": 1.0, "eval/bb_random_init": 2.0}
  assert [c[0] for c in calls] == ["a", "bb"] and len(inits) == 2
  with open(os.path.join(workdir, baselines_lib.FILE), encoding="utf-8") as f:
    assert json.load(f)["protocols"] == ["a", "bb"]
  assert baselines_lib.load(workdir) == got


def test_write_false_leaves_the_file(tmp_path):
  calls = []
  ev = {"a": _Evaluator("a", calls)}
  got = baselines_lib.ensure(
    str(tmp_path), ev, lambda: 0, log=lambda _: None, write=False
  )
  assert got == {"eval/a_random_init": 1.0}
  assert not os.listdir(tmp_path) and baselines_lib.load(str(tmp_path)) == {}


def test_the_old_flat_format_counts_as_complete(tmp_path):
  path = tmp_path / baselines_lib.FILE
  path.write_text(json.dumps({"eval/knn_top1_random_init": 10.0}))

  def init():
    raise AssertionError("an old file is not re-scored")

  ev = {"a": _Evaluator("a", [])}
  got = baselines_lib.ensure(str(tmp_path), ev, init, log=lambda _: None)
  assert got == {"eval/knn_top1_random_init": 10.0}


@pytest.mark.slow
def test_a_protocol_added_on_resume_gets_its_random_init_baselines(tmp_path):
  """Resumed with fewshot added, the run scores fewshot's baselines from
  the same random init as a run that had fewshot from step 0."""

  def config(protocols):
    c = configs_lib.load("quickstart", "smoke")
    c.train.total_steps = 2
    c.train.progress_bar = False
    c.eval.max_train_examples = 512  # 25-shot needs 25 of each class
    c.eval.protocols = protocols
    c.eval.baselines = True  # off in :smoke
    return c

  both = ("representation", "fewshot")
  later, first = str(tmp_path / "later"), str(tmp_path / "first")
  s1 = train.run(config(("representation",)), later)
  assert not any(k.startswith("eval/fewshot") for k in s1)
  resumed = train.run(config(both), later)  # finished: evaluates only
  fresh = train.run(config(both), first)
  keys = [k for k in fresh if k.startswith("eval/fewshot") and "_random" in k]
  assert keys
  for k in keys:
    assert resumed[k] == pytest.approx(fresh[k]), k
  assert resumed["eval/knn_top1_random_init"] == s1["eval/knn_top1_random_init"]
