"""SIGKILL at 10 random moments of a BYOL quick run, then resume to the end.

BYOL is the hard case for an exact resume: an EMA target network whose
momentum follows a schedule, BatchNorm statistics in both networks, LARS
momentum, the data stream's position. The run is `configs/byol_quick.py` at
its smoke size (batch 16, the small heads) for 40 steps with a checkpoint
every 4 steps and a kNN evaluation at step 20 and at the end, through the
real command line (`python -m jaxssl.main`), killed with SIGKILL at 10
moments drawn by a seeded generator: a train step reached plus a random
delay, so kills land inside steps, asynchronous saves, the evaluations and
start-up. The final checkpoint (parameters, optimizer state, EMA target,
BatchNorm statistics, step) and every metric row equal the uninterrupted
run's bit for bit.
"""

import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from jaxssl.train import writer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
pytestmark = pytest.mark.slow

STEPS = 40
KILLS = 10
_ARGS = [
  "--config",
  "configs/byol_quick.py:smoke",
  f"--config.train.total_steps={STEPS}",
  "--config.train.ckpt_every_steps=4",
  "--config.train.eval_every_steps=20",
  "--config.train.progress_bar=false",
]


def _start(workdir):
  return subprocess.Popen(
    [sys.executable, "-m", "jaxssl.main", *_ARGS, "--workdir", str(workdir)],
    cwd=ROOT,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
  )


def _finish(workdir):
  proc = _start(workdir)
  out, _ = proc.communicate(timeout=600)
  assert proc.returncode == 0, out[-3000:]
  return out


def _last_step(workdir):
  path = os.path.join(str(workdir), "metrics.jsonl")
  if not os.path.exists(path):
    return 0
  return max(
    (r["step"] for r in writer.read_metrics(str(workdir)) if "train/loss" in r),
    default=0,
  )


def _kill_after(workdir, step, delay_s):
  """Starts the run; SIGKILLs it `delay_s` after it logged `step` (or at
  once after start-up when the resumed run is already past it)."""
  proc = _start(workdir)
  deadline = time.monotonic() + 300
  while _last_step(workdir) < step and proc.poll() is None:
    assert time.monotonic() < deadline, f"step {step} not reached"
    time.sleep(0.01)
  time.sleep(delay_s)
  if proc.poll() is not None:  # finished (or failed) before the kill
    out, _ = proc.communicate()
    assert proc.returncode == 0, out[-3000:]
    return "finished"
  proc.send_signal(signal.SIGKILL)
  proc.communicate(timeout=60)
  return "killed"


def _rows(workdir):
  """`{(kind, step): row}`, the last row of a step winning, timings out."""
  rows = {}
  for r in writer.read_metrics(str(workdir)):
    kind = "train" if "train/loss" in r else "eval"
    rows[(kind, r["step"])] = {
      k: v for k, v in r.items() if "per_s" not in k and "time" not in k
    }
  return rows


def _final_state(workdir):
  path = os.path.join(str(workdir), "checkpoints", str(STEPS), "default")
  return ocp.StandardCheckpointer().restore(path)


def test_ten_random_sigkills_of_byol_resume_bit_identical(tmp_path):
  straight = tmp_path / "straight"
  _finish(straight)
  killed = tmp_path / "killed"
  rng = np.random.default_rng(20261202)
  steps = np.sort(rng.integers(1, STEPS + 1, KILLS))
  delays = rng.uniform(0.0, 0.6, KILLS)
  outcomes = [
    _kill_after(killed, int(s), float(d)) for s, d in zip(steps, delays)
  ]
  assert outcomes.count("killed") >= KILLS - 2, list(zip(steps, outcomes))
  out = _finish(killed)
  assert "Resuming from the checkpoint at step" in out or outcomes[-1] == (
    "finished"
  )
  a, b = _final_state(straight), _final_state(killed)
  assert jax.tree.structure(a) == jax.tree.structure(b)
  jax.tree.map(np.testing.assert_array_equal, a, b)
  rows_a, rows_b = _rows(straight), _rows(killed)
  assert sorted(rows_a) == sorted(rows_b)
  assert [s for k, s in rows_a if k == "train"] == list(range(1, STEPS + 1))
  assert {s for k, s in rows_a if k == "eval"} >= {20, STEPS}
  for key, row in rows_a.items():
    assert rows_b[key] == row, key
