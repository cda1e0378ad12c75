"""`python -m jaxssl.eval` on a finished smoke run: every image protocol."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from jaxssl import configs_lib, train
from jaxssl import eval as eval_cli
from jaxssl.evals import diagnostics

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


def test_help_names_the_flags():
  out = subprocess.run(
    [sys.executable, "-m", "jaxssl.eval", "--help"],
    capture_output=True,
    text=True,
    check=True,
  ).stdout
  for flag in ("--workdir", "--protocol", "--step"):
    assert flag in out
