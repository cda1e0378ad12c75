"""`python -m jaxssl.eval` on a finished smoke run: every image protocol."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from jaxssl import configs_lib, evals, train
from jaxssl import eval as eval_cli
from jaxssl.evals import diagnostics
from jaxssl.train import baselines as baselines_lib

pytestmark = pytest.mark.slow  # one smoke training run, then evaluations


@pytest.fixture(scope="module", name="workdir")
def _workdir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("run"))
  config = configs_lib.load("quickstart", "smoke")
  config.train.total_steps = 4
  config.train.ckpt_every_steps = 2
  config.train.progress_bar = False
  config.eval.linear_probe = True
  config.eval.max_train_examples = 512  # 25-shot needs 25 of each class
  train.run(config, workdir)
  return workdir


def _rows(workdir):
  with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]


def test_every_image_protocol_is_scored_and_appended(
  workdir, capsys, monkeypatch
):
  monkeypatch.setattr(diagnostics, "ALIGN_PAIRS", 32)
  before = _rows(workdir)
  summary = before[-1]
  metrics = eval_cli.main(
    [
      "--workdir",
      workdir,
      "--protocol",
      "representation",
      "--protocol",
      "fewshot",
      "--protocol",
      "diagnostics",
    ]
  )
  want = {
    "eval/knn_top1",
    "eval/knn_top5",
    "eval/linear_top1",
    "eval/linear_top5",
    "eval/alignment",
    "eval/uniformity",
    "eval/rankme",
  }
  for k in (1, 5, 10, 25):
    want |= {f"eval/fewshot_{k}shot", f"eval/fewshot_{k}shot_std"}
  assert set(metrics) == want
  # The same final scores as the end of the run (same state, final=True).
  for key in ("eval/knn_top1", "eval/linear_top1"):
    assert metrics[key] == pytest.approx(summary[key])
  for k in (1, 5):
    assert metrics[f"eval/knn_top{k}"] <= 100.0
  assert metrics["eval/knn_top1"] <= metrics["eval/knn_top5"]
  assert metrics["eval/linear_top1"] <= metrics["eval/linear_top5"]
  rows = _rows(workdir)
  assert len(rows) == len(before) + 1
  assert rows[-1] == {"step": 4, **metrics}
  out = capsys.readouterr().out
  assert "step 4" in out and "eval/fewshot_25shot" in out


def test_an_earlier_step(workdir):
  step, metrics = eval_cli.evaluate(
    workdir, ["representation"], step=2, write=False
  )
  assert step == 2 and "eval/knn_top5" in metrics


def test_set_scores_another_recipe_without_touching_the_run(workdir, tmp_path):
  before = _rows(workdir)
  out = tmp_path / "tries.jsonl"
  argv = ["--workdir", workdir, "--protocol", "representation"]
  got = eval_cli.main(
    [*argv, "--set", "eval.linear_probe=False", "--baselines"]
    + ["--output", str(out)]
  )
  assert _rows(workdir) == before  # another recipe: not the run's row
  assert not os.path.exists(os.path.join(workdir, baselines_lib.FILE))
  assert "eval/knn_top1" in got and "eval/knn_top1_random_init" in got
  assert not any(k.startswith("eval/linear") for k in got)  # probe off
  (row,) = [json.loads(line) for line in out.read_text().splitlines()]
  assert row["set"] == {"eval.linear_probe": False} and row["step"] == 4
  assert row["metrics"] == pytest.approx(got)


def test_baselines_of_the_run_recipe_are_kept(workdir):
  path = os.path.join(workdir, baselines_lib.FILE)
  _, got = eval_cli.evaluate(
    workdir, ["representation"], write=False, baselines=True
  )
  assert not os.path.exists(path)
  _, kept = eval_cli.evaluate(workdir, ["representation"], baselines=True)
  try:
    saved = baselines_lib.load(workdir)
    assert "eval/linear_top1_random_init" in saved
    for key, value in saved.items():
      assert kept[key] == pytest.approx(got[key]) == pytest.approx(value)
    # The row appended to metrics.jsonl holds the run's metrics only.
    assert not set(saved) & set(_rows(workdir)[-1])
  finally:
    os.remove(path)


def _error(argv):
  with pytest.raises(SystemExit) as e:
    eval_cli.main(argv)
  message = str(e.value.code)
  assert message.startswith("jaxssl: error: ") and "\n" not in message
  return message


def test_bad_input_is_one_line(workdir, tmp_path):
  assert "'nope' is not one of" in _error(
    ["--workdir", workdir, "--protocol", "nope"]
  )
  got = _error(["--workdir", workdir, "--protocol", "mlm"])
  assert "--protocol: 'mlm' does not fit method 'simclr'" in got
  assert "config.json: no such file" in _error(
    ["--workdir", str(tmp_path), "--protocol", "representation"]
  )
  # A run whose checkpoints are gone.
  empty = tmp_path / "empty"
  empty.mkdir()
  shutil.copy(os.path.join(workdir, "config.json"), empty / "config.json")
  assert "no checkpoints" in _error(
    ["--workdir", str(empty), "--protocol", "representation"]
  )
  got = _error(
    ["--workdir", workdir, "--protocol", "representation", "--step", "3"]
  )
  assert "no checkpoint at step 3" in got
  assert "--workdir" in _error(["--protocol", "representation"])
  argv = ["--workdir", workdir, "--protocol", "representation", "--set"]
  got = _error([*argv, "train.total_steps=3"])
  assert "--set train.total_steps: only eval.* keys and model.vit_pool" in got
  assert "--set eval.nope: unknown config key" in _error([*argv, "eval.nope=1"])
  got = _error([*argv, "eval.knn_k"])
  assert "--set 'eval.knn_k': expected KEY=VALUE" in got
  assert "eval.knn_k" in _error([*argv, "eval.knn_k=0"])


def test_help_names_the_flags():
  out = subprocess.run(
    [sys.executable, "-m", "jaxssl.eval", "--help"],
    capture_output=True,
    text=True,
    check=True,
  ).stdout
  for flag in ("--workdir", "--protocol", "--step", "--set", "--baselines"):
    assert flag in out
  assert sorted(eval_cli.PROTOCOL_NAMES) == sorted(evals.PROTOCOLS)
  for name in evals.PROTOCOLS:
    assert name in out, name
