"""Faults a long run meets, each on the real loop, files and processes.

Corrupt checkpoints are real Orbax checkpoints damaged on disk. The runs are
the seconds-long toy run of `fault_plugins` (random vectors, a linear
auto-encoder), so each test pays for compilation, not for training.
"""

import contextlib
import glob
import json
import logging
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time

import fault_plugins
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
import train_testing

from jaxssl import configs_lib
from jaxssl.train import checkpoint, loop, setup, writer

pytestmark = pytest.mark.slow


@pytest.fixture(name="plugins", autouse=True)
def _plugins(monkeypatch):
  fault_plugins.register(monkeypatch.setitem)


def _run(workdir, **overrides):
  return loop.run(fault_plugins.config(**overrides), str(workdir))


def _rows(workdir):
  return {
    r["step"]: r for r in writer.read_metrics(str(workdir)) if "train/loss" in r
  }


def _saved(workdir, step):
  path = os.path.join(str(workdir), "checkpoints", str(step), "default")
  return ocp.StandardCheckpointer().restore(path)


def _largest_file(step_dir):
  """The largest array data file (TensorStore's OCDBT `d/` chunks)."""
  files = glob.glob(f"{step_dir}/default/**/d/*", recursive=True)
  return max(files, key=os.path.getsize)


def _truncate(step_dir):
  path = _largest_file(step_dir)
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


def _garbage(step_dir):
  # Bytes in the middle of an array's data file: Orbax restores these
  # without an error; only the fingerprint catches them.
  path = _largest_file(step_dir)
  with open(path, "r+b") as f:
    f.seek(os.path.getsize(path) // 2)
    f.write(bytes(range(7, 71)))


def _missing_entry(step_dir):
  os.remove(os.path.join(step_dir, "default", "manifest.ocdbt"))


def _missing_metadata(step_dir):
  os.remove(os.path.join(step_dir, "_CHECKPOINT_METADATA"))


def _missing_fingerprint(step_dir):
  os.remove(os.path.join(step_dir, "default", "jaxssl_fingerprint.json"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  """A finished 6-step run with checkpoints at 3 and 6."""
  mp = pytest.MonkeyPatch()
  fault_plugins.register(mp.setitem)
  workdir = tmp_path_factory.mktemp("finished")
  summary = _run(workdir)
  mp.undo()
  return workdir, summary


@pytest.mark.parametrize(
  "damage,why",
  [
    (_truncate, "Exception: Encountered error while reading array"),
    (_garbage, "its arrays do not match the fingerprint saved with them"),
    (_missing_entry, "NOT_FOUND"),
    (_missing_metadata, "its _CHECKPOINT_METADATA is missing or unreadable"),
    (
      _missing_fingerprint,
      "its fingerprint default/jaxssl_fingerprint.json is missing or unread",
    ),
  ],
)
def test_corrupt_latest_checkpoint_falls_back(finished, tmp_path, damage, why):
  source, _ = finished
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  ckpt = workdir / "checkpoints"
  damage(str(ckpt / "6"))
  # The run restarts from step 3: not from the bad 6, not from 0.
  with _warnings() as messages:
    summary = _run(workdir)
  assert summary["resumed_from"] == 3 and summary["steps"] == 6
  warnings = [m for m in messages if "unreadable" in m]
  assert len(warnings) == 1, messages
  assert f"step 6 in {ckpt} is unreadable (" in warnings[0]
  assert why in warnings[0]
  assert f"moved it to {ckpt / '6.corrupt'}" in warnings[0]
  assert os.path.isdir(ckpt / "6.corrupt")
  # Step 6 was trained and saved again from the good step 3; a later run
  # resumes from the newest checkpoint without a warning.
  assert sorted(os.listdir(ckpt)) == ["3", "6", "6.corrupt"]
  jax.tree.map(
    np.testing.assert_array_equal, _saved(workdir, 6), _saved(source, 6)
  )
  with _warnings() as messages:
    assert _run(workdir)["resumed_from"] == 6
  assert not [m for m in messages if "unreadable" in m]


def test_no_readable_checkpoint_is_an_error_not_step_0(finished, tmp_path):
  source, _ = finished
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  ckpt = workdir / "checkpoints"
  _truncate(str(ckpt / "6"))
  _garbage(str(ckpt / "3"))
  for _ in range(2):  # the same error again: nothing was moved or written
    with pytest.raises(ValueError) as e:
      _run(workdir)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"no readable checkpoint in {ckpt} (step 6: ")
    assert "step 3: its arrays do not match the fingerprint" in message
    assert sorted(os.listdir(ckpt)) == ["3", "6"]


def test_checkpoint_of_another_config_is_named(finished, tmp_path):
  source, _ = finished
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  os.remove(workdir / "config.json")  # only the checkpoint can tell
  with pytest.raises(ValueError, match="written by another config") as e:
    _run(workdir, **{"method.width": 8})
  assert ".params['w'] is [[64, 16], 'float32'] there" in str(e.value)
  assert sorted(os.listdir(workdir / "checkpoints")) == ["3", "6"]


@contextlib.contextmanager
def _warnings():
  """The warnings absl logs inside the block."""
  messages = []
  handler = logging.Handler(logging.WARNING)
  handler.emit = lambda record: messages.append(record.getMessage())
  logging.getLogger("absl").addHandler(handler)
  try:
    yield messages
  finally:
    logging.getLogger("absl").removeHandler(handler)


def _preempted(workdir, steps, **overrides):
  """The toy run stopped as by a SIGTERM after `steps` steps."""
  mp = pytest.MonkeyPatch()
  mp.setattr(loop, "_Preemption", train_testing.stop_after(steps))
  try:
    assert _run(workdir, **overrides)["preempted"]
  finally:
    mp.undo()


def test_resume_with_a_changed_config_names_the_keys(finished, tmp_path):
  source, _ = finished
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  before = (workdir / "config.json").read_text()
  with pytest.raises(ValueError) as e:
    _run(workdir, **{"method.width": 8, "train.batch_size": 8, "seed": 1})
  message = str(e.value)
  assert "\n" not in message
  assert message.startswith(f"resuming {workdir} with a changed config: ")
  assert "config.method.width: 16 (saved) != 8" in message
  assert "config.train.batch_size: 16 (saved) != 8" in message
  assert "config.seed: 0 (saved) != 1" in message
  assert "train.total_steps" in message  # the list of safe keys
  assert (workdir / "config.json").read_text() == before
  assert sorted(os.listdir(workdir / "checkpoints")) == ["3", "6"]


def test_keys_newer_than_the_saved_config_count_as_defaults(finished, tmp_path):
  source, _ = finished
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  saved = json.loads((workdir / "config.json").read_text())
  del saved["optim"]["b2"]  # as if written before optim.b2 existed
  (workdir / "config.json").write_text(json.dumps(saved))
  with pytest.raises(ValueError, match=r"config.optim.b2: <absent> \(saved"):
    _run(workdir, **{"optim.b2": 0.99})
  assert _run(workdir)["resumed_from"] == 6  # the default: no change


def test_resume_with_safe_changes_continues(finished, tmp_path):
  source, _ = finished
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  summary = _run(
    workdir,
    **{
      "train.total_steps": 8,
      "train.log_every_steps": 2,
      "train.ckpt_every_steps": 4,
      "eval.batch_size": 32,
      "mesh.data": 4,
      "model.remat": True,
    },
  )
  assert summary["resumed_from"] == 6 and summary["steps"] == 8
  saved = json.loads((workdir / "config.json").read_text())
  assert saved["train"]["total_steps"] == 8  # the new config is recorded
  assert sorted(_rows(workdir)) == [1, 2, 3, 4, 5, 6, 8]


def test_resume_on_fewer_devices(finished, tmp_path):
  eight, _ = finished
  workdir = tmp_path / "run"
  _preempted(workdir, 3)
  # Saved from 8 devices, restored onto a 4-device and a 1-device mesh.
  for n in (4, 1):
    config = fault_plugins.config(**{"mesh.data": n})
    run = setup.build(config, fault_plugins.NOISE.batch_spec(config))
    checkpointer = checkpoint.Checkpointer(
      str(workdir / "checkpoints"), every_steps=3, max_to_keep=3
    )
    state, step = checkpointer.restore_latest(run.abstract_state())
    checkpointer.close()
    assert step == 3
    assert state.params["w"].sharding.mesh.devices.size == n
  summary = _run(workdir, **{"mesh.data": 4})
  assert summary["resumed_from"] == 3 and summary["steps"] == 6
  a, b = _rows(eight), _rows(workdir)
  assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5, 6]
  for step in a:
    for key in ("train/loss", "train/grad_norm", "train/param_norm"):
      np.testing.assert_allclose(
        b[step][key], a[step][key], rtol=1e-5, err_msg=f"{key} at {step}"
      )


def test_nonfinite_loss_stops_naming_the_step(tmp_path):
  # Metrics are fetched only every 9 steps; the check before the save at
  # step 6 finds step 5 non-finite and saves nothing of that state.
  overrides = {"method.nan_at_step": 4, "train.total_steps": 9}
  overrides["train.log_every_steps"] = 9
  with pytest.raises(FloatingPointError) as e:
    _run(tmp_path, **overrides)
  message = str(e.value)
  assert "\n" not in message
  assert message.startswith(
    "non-finite metrics at step 5: train/loss=nan, train/grad_norm=nan, "
  )
  assert "train/recon=nan" in message
  assert "train/grad_norm=nan" in message
  assert "train/lr" not in message  # finite metrics are not listed
  ckpt = tmp_path / "checkpoints"
  assert f"the checkpoint at step 3 in {ckpt} is kept" in message
  assert sorted(os.listdir(ckpt)) == ["3"]
  assert _rows(tmp_path) == {}  # no metrics row of the non-finite state
  # The kept checkpoint resumes, here with the cure for this toy's NaN.
  summary = _run(
    tmp_path, **overrides, **{"train.nan_policy": "skip", "optim.lr": 0.1}
  )
  assert summary["resumed_from"] == 3 and summary["skipped_steps"] == 1


def test_skip_policy_keeps_the_state_and_counts(tmp_path):
  config = fault_plugins.config(
    **{"method.nan_at_step": 4, "train.nan_policy": "skip"}
  )
  run = setup.build(config, fault_plugins.NOISE.batch_spec(config))
  batches = fault_plugins.NOISE.train_batches(config)
  state = run.init(run.init_key)
  for _ in range(4):
    state, _ = run.train_step(state, next(batches))
  before = jax.device_get(state)
  state, metrics = run.train_step(state, next(batches))
  after = jax.device_get(state)
  assert not np.isfinite(metrics["train/loss"])
  assert after.step == 5 and after.skipped_steps == 1
  for part in ("params", "opt_state", "extra"):
    jax.tree.map(
      np.testing.assert_array_equal, getattr(before, part), getattr(after, part)
    )
  state, metrics = run.train_step(state, next(batches))
  assert np.isfinite(metrics["train/loss"])
  assert int(metrics["train/skipped_steps"]) == 1

  summary = loop.run(config, str(tmp_path))
  assert summary["steps"] == 6 and summary["skipped_steps"] == 1
  rows = _rows(tmp_path)
  assert [rows[s]["train/skipped_steps"] for s in range(1, 7)] == [
    0,
    0,
    0,
    0,
    1,
    1,
  ]
  assert rows[5]["train/loss"] is None  # non-finite: null in metrics.jsonl
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["3", "6"]


def test_nan_policy_value_is_checked():
  config = fault_plugins.config(**{"train.nan_policy": "ignore"})
  with pytest.raises(ValueError, match=r"config.train.nan_policy='ignore'"):
    configs_lib.validate(config)


@contextlib.contextmanager
def _file_size_limit():
  """Lets the block set RLIMIT_FSIZE; writes past it then fail with EFBIG.

  The kernel's limit on this process's file writes: real writes fail (as
  on a full disk) while reads, directories and renames still work. SIGXFSZ
  is ignored so that the write fails instead of killing the process.
  """
  previous = resource.getrlimit(resource.RLIMIT_FSIZE)
  handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
  try:
    yield lambda n: resource.setrlimit(resource.RLIMIT_FSIZE, (n, previous[1]))
  finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, previous)
    signal.signal(signal.SIGXFSZ, handler)


def _disk_full_after(steps, workdir, set_limit):
  """A `loop._Preemption` that fills the disk after `steps` steps.

  It first waits for the checkpoint at step 3 to be complete on disk, so
  the test knows which checkpoints were written before the disk filled.
  """
  done = os.path.join(str(workdir), "checkpoints", "3")

  class _DiskFull(loop._Preemption):  # pylint: disable=protected-access
    def __enter__(self):
      self._checks = 0
      return super().__enter__()

    @property
    def requested(self):
      self._checks += 1
      if self._checks == steps + 1:
        deadline = time.monotonic() + 60
        while not os.path.isdir(done) and time.monotonic() < deadline:
          time.sleep(0.05)
        set_limit(0)
      return False

    @requested.setter
    def requested(self, value):
      pass

  return _DiskFull


@pytest.mark.parametrize(
  "log_every,culprit",
  [
    (1, "[Errno 27] File too large: '{workdir}/metrics.jsonl'"),
    (12, "cannot write a checkpoint (step 6 or later) in {workdir}/check"),
  ],
)
def test_disk_full_mid_run(tmp_path, monkeypatch, log_every, culprit):
  # Full after step 4 (the checkpoint at step 3 complete): with a row logged
  # every step the metrics file fails first; with none before step 12, the
  # asynchronous save of step 6 fails, reported by the save at step 9.
  overrides = {"train.total_steps": 12, "train.log_every_steps": log_every}
  with _file_size_limit() as set_limit:
    monkeypatch.setattr(
      loop, "_Preemption", _disk_full_after(4, tmp_path, set_limit)
    )
    with pytest.raises(OSError) as e:
      _run(tmp_path, **overrides)
  monkeypatch.undo()
  fault_plugins.register(monkeypatch.setitem)
  message = str(e.value)
  assert "\n" not in message
  assert message.startswith(culprit.format(workdir=tmp_path))
  ckpt = tmp_path / "checkpoints"
  assert message.endswith(
    f"; the checkpoints at steps [3] in {ckpt} are intact: free space (or "
    "make the workdir writable) and run the same command to resume"
  )
  assert [n for n in os.listdir(ckpt) if n.isdigit()] == ["3"]
  summary = _run(tmp_path, **overrides)
  assert summary["resumed_from"] == 3 and summary["steps"] == 12
  # The cut-short save's temporary directory went on the restart.
  assert sorted(os.listdir(ckpt)) == ["12", "6", "9"]


_SCRIPT = os.path.join(os.path.dirname(__file__), "fault_plugins.py")
# 30 steps of >= 40 ms (a host sleep in the data kind), checkpoints every 5,
# evaluations (0.4 s each) at steps 10, 20 and at the end.
_LONG = {
  "train.total_steps": 30,
  "train.ckpt_every_steps": 5,
  "train.eval_every_steps": 10,
}


def _start(workdir, markers=None, hold_save_s=0.0):
  """The toy run of `_LONG` as a subprocess (`fault_plugins`' markers)."""
  args = [f"{k}={json.dumps(v)}" for k, v in _LONG.items()]
  env = dict(os.environ)
  if markers is not None:
    env["FAULT_MARKERS"] = str(markers)
    env["FAULT_HOLD_SAVE_S"] = str(hold_save_s)
  return subprocess.Popen(
    [sys.executable, _SCRIPT, str(workdir), *args, "data.sleep_s=0.04"],
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
    env=env,
  )


def _kill_at(workdir, marker, markers, hold_save_s=0.0):
  """SIGKILLs the toy run as it starts the phase `marker` (e.g. `eval_20`).

  Returns:
    The run's output up to the kill.
  """
  markers.mkdir()
  proc = _start(workdir, markers, hold_save_s)
  deadline = time.monotonic() + 120
  while not (markers / marker).exists():
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    assert time.monotonic() < deadline, f"no {marker} in time"
    time.sleep(0.005)
  proc.send_signal(signal.SIGKILL)
  out, _ = proc.communicate(timeout=60)
  assert proc.returncode == -signal.SIGKILL
  return out


def _last_rows(workdir, key):
  """`{step: row}` of the rows holding `key` (the last of a step's rows)."""
  return {r["step"]: r for r in writer.read_metrics(str(workdir)) if key in r}


def test_sigkill_in_an_async_save_and_in_evaluations_resumes_bit_identical(
  tmp_path,
):
  straight = _run(tmp_path / "straight", **_LONG)
  killed = tmp_path / "killed"
  ckpt = killed / "checkpoints"
  # 1. In the background write of the save of step 10 (each save held 2 s
  # there), while the loop trains on: that save is cut short.
  _kill_at(killed, "save_10", tmp_path / "m1", hold_save_s=2.0)
  assert [n for n in os.listdir(ckpt) if n.isdigit()] == ["5"]
  # 2. In the evaluation at step 20 (the save of step 20 in flight or done).
  out = _kill_at(killed, "eval_20", tmp_path / "m2")
  assert f"Resuming from the checkpoint at step 5 in {killed}" in out
  # 3. In the final evaluation, the final checkpoint complete.
  out = _kill_at(killed, "eval_30", tmp_path / "m3")
  resumed_at = re.search(r"Resuming from the checkpoint at step (\d+) in", out)
  assert resumed_at and resumed_at.group(1) in ("15", "20"), out[-3000:]
  assert "30" in os.listdir(ckpt)
  proc = _start(killed)
  out, _ = proc.communicate(timeout=120)
  assert proc.returncode == 0, out[-3000:]
  line = [l for l in out.splitlines() if l.startswith("SUMMARY ")][-1]
  resumed = json.loads(line.removeprefix("SUMMARY "))
  assert resumed["steps"] == straight["steps"] == 30
  assert resumed["resumed_from"] == 30
  assert resumed["eval/feature_norm"] == straight["eval/feature_norm"]
  # The cut-short save left no temporary directory behind.
  assert sorted(os.listdir(ckpt)) == ["20", "25", "30"]
  # Parameters, optimizer state, extra and step counters, bit for bit.
  a, b = _saved(tmp_path / "straight", 30), _saved(killed, 30)
  jax.tree.map(np.testing.assert_array_equal, a, b)
  # Every step's metrics (the last row of a step logged twice) and every
  # evaluation's.
  for key in ("train/loss", "eval/feature_norm"):
    rows_a = _last_rows(tmp_path / "straight", key)
    rows_b = _last_rows(killed, key)
    assert sorted(rows_a) == sorted(rows_b)
    for step, row in rows_a.items():
      for name, value in row.items():
        if "per_s" not in name:
          assert rows_b[step][name] == value, (step, name)
  assert sorted(_last_rows(killed, "eval/feature_norm")) == [10, 20, 30]
  assert sorted(_last_rows(killed, "train/loss")) == list(range(1, 31))


def test_a_row_cut_by_a_kill_is_dropped_on_resume(finished, tmp_path):
  source, _ = finished
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  shutil.rmtree(workdir / "checkpoints" / "6")
  with open(workdir / "metrics.jsonl", "a", encoding="utf-8") as f:
    f.write('{"step": 4, "train/lo')  # what a kill mid-write leaves
  assert _run(workdir)["resumed_from"] == 3
  rows = writer.read_metrics(str(workdir))
  steps = [r["step"] for r in rows if "train/loss" in r]
  assert steps == [1, 2, 3, 4, 5, 6, 4, 5, 6]


def _step_metadata(workdir, step, edit):
  """Rewrites `<step>/_CHECKPOINT_METADATA`'s custom metadata with `edit`."""
  path = workdir / "checkpoints" / str(step) / "_CHECKPOINT_METADATA"
  metadata = json.loads(path.read_text())
  edit(metadata["custom_metadata"])
  path.write_text(json.dumps(metadata))


def test_checkpoint_without_fingerprint_still_resumes(finished, tmp_path):
  # As written before checkpoints carried a fingerprint: not verified, not
  # treated as corrupt.
  source, _ = finished
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  _step_metadata(workdir, 6, lambda m: m.pop("jaxssl_fingerprint_file"))
  _missing_fingerprint(str(workdir / "checkpoints" / "6"))
  assert _run(workdir, **{"train.total_steps": 7})["resumed_from"] == 6
  # Another config's state, unverifiable: an error, nothing moved aside.
  shutil.rmtree(workdir / "checkpoints" / "7")
  os.remove(workdir / "config.json")
  with pytest.raises(ValueError, match="written without a fingerprint"):
    _run(workdir, **{"method.width": 8})
  assert sorted(os.listdir(workdir / "checkpoints")) == ["3", "6"]


def test_fingerprint_in_the_step_metadata_still_verifies(finished, tmp_path):
  # As written before the hashes were fetched in the background: the whole
  # fingerprint in Orbax's step metadata, verified as strictly.
  source, _ = finished
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  for step in (3, 6):
    step_dir = workdir / "checkpoints" / str(step)
    file = step_dir / "default" / "jaxssl_fingerprint.json"
    saved = json.loads(file.read_text())
    file.unlink()

    def edit(custom, saved=saved):
      del custom["jaxssl_fingerprint_file"]
      custom["jaxssl_fingerprint"] = saved

    _step_metadata(workdir, step, edit)
  _garbage(str(workdir / "checkpoints" / "6"))
  with _warnings() as messages:
    assert _run(workdir)["resumed_from"] == 3
  assert any("its arrays do not match the fingerprint" in m for m in messages)


def _toy_state():
  return {
    "w": jnp.arange(4096, dtype=jnp.float32).reshape(64, 64) / 7,
    "step": jnp.array(3, jnp.int32),
    "rng": jax.random.key_data(jax.random.key(1)),
  }


def test_save_returns_before_the_hashes_are_fetched(tmp_path, monkeypatch):
  # maybe_save only dispatches the hashes; Orbax's background thread waits
  # for them. Here they are held until the state has been overwritten in
  # place by a donating step: the fingerprint is still the saved state's.
  release, fetched = threading.Event(), []
  result = checkpoint._Pending.result  # pylint: disable=protected-access

  def held(self):
    assert release.wait(30), "maybe_save waited for the hashes"
    fetched.append(threading.current_thread() is threading.main_thread())
    return result(self)

  monkeypatch.setattr(checkpoint._Pending, "result", held)  # pylint: disable=protected-access
  state = _toy_state()
  want = jax.device_get(state)
  directory = tmp_path / "ckpt"
  ckpt = checkpoint.Checkpointer(str(directory), every_steps=1, max_to_keep=2)
  assert ckpt.maybe_save(3, state)
  assert not fetched and ckpt.steps_on_disk() == []
  step = jax.jit(
    lambda s: jax.tree.map(lambda x: x * 3 + 1, s), donate_argnums=0
  )
  state = jax.block_until_ready(step(state))
  release.set()
  ckpt.wait_until_finished()
  assert fetched == [False]  # in Orbax's thread, not the loop's
  assert ckpt.steps_on_disk() == [3]
  abstract = jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding),
    state,
  )
  restored = ckpt.restore(abstract, 3)  # verified against the fingerprint
  ckpt.close()
  jax.tree.map(np.testing.assert_array_equal, restored, want)
  saved = json.loads(
    (directory / "3" / "default" / "jaxssl_fingerprint.json").read_text()
  )
  assert saved == checkpoint.fingerprint(want)


def test_the_final_save_is_complete_when_run_returns(tmp_path, monkeypatch):
  # Each checkpoint's background write held 1 s: run() returns only after
  # the last one is on disk, complete and verified.
  monkeypatch.setenv("FAULT_HOLD_SAVE_S", "1")
  fault_plugins.announce(monkeypatch.setattr)
  summary = _run(tmp_path, **{"train.total_steps": 7})
  ckpt = tmp_path / "checkpoints"
  assert summary["steps"] == 7
  assert sorted(os.listdir(ckpt)) == ["3", "6", "7"]
  assert os.path.isfile(ckpt / "7" / "default" / "jaxssl_fingerprint.json")
  config = fault_plugins.config()
  run = setup.build(config, fault_plugins.NOISE.batch_spec(config))
  reader = checkpoint.Checkpointer(str(ckpt), every_steps=3, max_to_keep=3)
  state, step = reader.restore_latest(run.abstract_state())
  reader.close()
  assert step == 7 and int(state.step) == 7


def test_command_line_prints_a_write_error_as_one_line(tmp_path):
  # The toy run from the command line: its config file registers the
  # plug-ins (no TensorFlow import). A real failed write, as root ignores
  # permissions: config.json is a folder.
  config_file = tmp_path / "toy.py"
  config_file.write_text(
    "import sys\n"
    f"sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
    "import fault_plugins\n"
    "fault_plugins.register(lambda d, k, v: d.__setitem__(k, v))\n"
    "get_config = fault_plugins.config\n"
  )
  workdir = tmp_path / "run"
  (workdir / "config.json").mkdir(parents=True)
  proc = subprocess.run(
    [
      sys.executable,
      "-m",
      "jaxssl.main",
      f"--config={config_file}",
      f"--workdir={workdir}",
    ],
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert proc.returncode != 0
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  lines = [l for l in proc.stderr.splitlines() if l.startswith("jaxssl:")]
  assert lines == [
    f"jaxssl: error: [Errno 21] Is a directory: '{workdir}/config.json'"
  ], proc.stderr[-3000:]
