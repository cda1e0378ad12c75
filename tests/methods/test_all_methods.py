"""Every registered method through the real loop on the 8-device mesh.

For each method's quick config (`:smoke`, shrunk further here): a run
trains with finite losses, logs the collapse diagnostic `z_std` above a
floor, checkpoints, and a run stopped half way then resumed gives exactly
the metrics and parameters of the uninterrupted one (so EMA teachers,
centres, queues and schedules are all part of the restored state).

A method joins these tests by being in `jaxssl.methods.METHODS` with a
config `configs/<name>_quick.py` (SimCLR: `configs/quickstart.py`).
"""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from jaxssl import configs_lib, methods
from jaxssl.train import loop, writer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
STEPS = 6

pytestmark = pytest.mark.slow


def config_path(name):
  base = "quickstart.py" if name == "simclr" else f"{name}_quick.py"
  return os.path.join(ROOT, "configs", base)


def smoke_config(name):
  config = configs_lib.load(config_path(name), "smoke")
  config.train.total_steps = STEPS
  config.train.ckpt_every_steps = STEPS // 2
  config.train.progress_bar = False
  config.train.batch_size = 32  # 4 examples per device on the 8-device mesh
  config.eval.batch_size = 64
  config.eval.max_train_examples = 128
  config.mesh.data = 8
  return configs_lib.validate(config)


def _rows(workdir):
  return {
    r["step"]: r for r in writer.read_metrics(workdir) if "train/loss" in r
  }


def _params(workdir, step):
  path = os.path.join(workdir, "checkpoints", str(step), "default")
  return ocp.StandardCheckpointer().restore(path)


class _StopAfter(loop._Preemption):  # pylint: disable=protected-access
  """Behaves like a SIGTERM arriving after STEPS // 2 steps."""

  def __enter__(self):
    self._checks = 0
    return super().__enter__()

  @property
  def requested(self):
    self._checks += 1
    return self._checks > STEPS // 2

  @requested.setter
  def requested(self, value):
    pass


def test_every_method_has_a_quick_config():
  for name in methods.METHODS:
    assert os.path.isfile(config_path(name)), name


@pytest.mark.parametrize("name", sorted(methods.METHODS))
def test_method_trains_checkpoints_and_resumes_exactly(
  name, tmp_path, monkeypatch
):
  straight, broken = str(tmp_path / "straight"), str(tmp_path / "broken")
  summary = loop.run(smoke_config(name), straight)
  assert summary["steps"] == STEPS
  # Image methods are scored by kNN, text methods (protocol `sentence`)
  # by paragraph-half retrieval.
  key = (
    "eval/retrieval_top1"
    if methods.get(name).data_kinds == ("tokens",)
    else "eval/knn_top1"
  )
  assert 0.0 <= summary[key] <= 100.0
  rows = _rows(straight)
  assert sorted(rows) == list(range(1, STEPS + 1))
  for step, row in rows.items():
    assert np.isfinite(row["train/loss"]), (step, row)
    # Collapse floor: L2-normalised embeddings of a collapsed method have
    # ~0 spread over the batch; a healthy one is near 1/sqrt(d).
    assert row["train/z_std"] > 0.01, (step, row["train/z_std"])

  monkeypatch.setattr(loop, "_Preemption", _StopAfter)
  assert loop.run(smoke_config(name), broken) == {
    "steps": STEPS // 2,
    "preempted": True,
  }
  monkeypatch.undo()
  resumed = loop.run(smoke_config(name), broken)
  assert resumed["resumed_from"] == STEPS // 2
  a, b = rows, _rows(broken)
  assert sorted(b) == sorted(a)
  for step in a:
    for key in a[step]:
      if key.startswith("train/") and "per_s" not in key:
        assert a[step][key] == b[step][key], (step, key)
  # Params, optimizer state and extra (teachers, centres, queues) alike.
  jax.tree.map(
    np.testing.assert_array_equal,
    _params(straight, STEPS),
    _params(broken, STEPS),
  )
