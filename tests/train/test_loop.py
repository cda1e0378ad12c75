"""End to end: the smoke config trains, checkpoints, resumes exactly, shards.

These run the real loop (real embedded data, tf.data, Orbax) on CPU.
"""

import json
import os
import signal

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from jaxssl import configs_lib
from jaxssl.train import loop, writer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
QUICKSTART = os.path.join(ROOT, "configs", "quickstart.py")
COMPARED = (
  "train/loss",
  "train/grad_norm",
  "train/param_norm",
  "train/lr",
  "train/z_std",
  "train/pos_cos",
)

pytestmark = pytest.mark.slow


def smoke_config(**overrides):
  config = configs_lib.load(QUICKSTART, "smoke")
  config.train.total_steps = 4
  config.train.ckpt_every_steps = 2
  config.train.progress_bar = False
  config.eval.max_train_examples = 128
  for key, value in overrides.items():
    section, name = key.split(".")
    config[section][name] = value
  return config


def _rows(workdir):
  return {
    r["step"]: r for r in writer.read_metrics(workdir) if "train/loss" in r
  }


def _params(workdir, step):
  path = os.path.join(workdir, "checkpoints", str(step), "default")
  return ocp.StandardCheckpointer().restore(path)["params"]


class _StopAfter(loop._Preemption):  # pylint: disable=protected-access
  """Behaves like a SIGTERM arriving after `n` steps (checked per step)."""

  n = 2

  def __enter__(self):
    self._checks = 0
    return super().__enter__()

  @property
  def requested(self):
    self._checks += 1
    return self._checks > self.n

  @requested.setter
  def requested(self, value):
    pass


def test_sigterm_sets_the_flag():
  with loop._Preemption() as p:  # pylint: disable=protected-access
    assert not p.requested
    os.kill(os.getpid(), signal.SIGTERM)
    assert p.requested
  # The previous handler is back once the loop is done.
  assert signal.getsignal(signal.SIGTERM) is not p._handle  # pylint: disable=protected-access


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """An uninterrupted 4-step run on the 8-device mesh, shared by tests."""
  workdir = str(tmp_path_factory.mktemp("straight"))
  summary = loop.run(smoke_config(), workdir)
  return workdir, summary


def test_smoke_run_writes_everything(straight):
  workdir, summary = straight
  assert summary["steps"] == 4
  assert 0.0 <= summary["eval/knn_top1"] <= 100.0
  for name in ("config.json", "metrics.jsonl", "tb", "checkpoints"):
    assert os.path.exists(os.path.join(workdir, name)), name
  rows = _rows(workdir)
  assert sorted(rows) == [1, 2, 3, 4]
  assert all(np.isfinite(rows[s]["train/loss"]) for s in rows)
  assert rows[4]["train/images_per_s"] > 0
  with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
    assert json.load(f)["train"]["total_steps"] == 4


def test_preempt_and_resume_is_exact(straight, tmp_path, monkeypatch):
  straight_dir, _ = straight
  broken = str(tmp_path / "broken")
  monkeypatch.setattr(loop, "_Preemption", _StopAfter)
  out = loop.run(smoke_config(), broken)
  assert out == {"steps": 2, "preempted": True}
  monkeypatch.undo()
  resumed = loop.run(smoke_config(), broken)
  assert resumed["resumed_from"] == 2 and resumed["steps"] == 4

  a, b = _rows(straight_dir), _rows(broken)
  assert sorted(b) == [1, 2, 3, 4]
  for step in (1, 2, 3, 4):
    for key in COMPARED:
      assert a[step][key] == b[step][key], (step, key)
  jax.tree.map(
    np.testing.assert_array_equal, _params(straight_dir, 4), _params(broken, 4)
  )
  # Re-running a finished run resumes at the end instead of starting over.
  again = loop.run(smoke_config(), broken)
  assert again["resumed_from"] == 4 and again["steps"] == 4


def test_one_device_equals_eight(straight, tmp_path):
  eight, _ = straight
  one = str(tmp_path / "one")
  loop.run(smoke_config(**{"mesh.data": 1}), one)
  a, b = _rows(one), _rows(eight)
  assert sorted(a) == sorted(b) == [1, 2, 3, 4]
  for step in a:
    for key in COMPARED:
      np.testing.assert_allclose(
        a[step][key],
        b[step][key],
        rtol=2e-4,
        atol=1e-5,
        err_msg=f"{key} at {step}",
      )


def test_batch_not_divisible_names_the_key(tmp_path):
  config = smoke_config(**{"train.batch_size": 12, "mesh.data": 8})
  with pytest.raises(ValueError, match="train.batch_size=12"):
    loop.run(config, str(tmp_path))


def test_unwritable_workdir_is_named(tmp_path):
  target = tmp_path / "file"
  target.write_text("not a directory")
  with pytest.raises(ValueError, match="is not writable"):
    loop.run(smoke_config(), str(target / "sub"))


def test_too_many_devices_hints_at_the_flag(tmp_path):
  with pytest.raises(ValueError, match="xla_force_host_platform_device_count"):
    loop.run(smoke_config(**{"mesh.data": 16}), str(tmp_path))
