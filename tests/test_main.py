"""The command line: one-line errors naming the culprit, and --help."""

import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(__file__))
pytestmark = pytest.mark.slow


def _main(*args, timeout=120, cwd=ROOT):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  t0 = time.perf_counter()
  proc = subprocess.run(
    [sys.executable, "-m", "jaxssl.main", *args],
    cwd=cwd,
    env=env,
    capture_output=True,
    text=True,
    timeout=timeout,
    check=False,
  )
  return proc, time.perf_counter() - t0


def _error_line(proc):
  lines = [l for l in proc.stderr.splitlines() if l.startswith("jaxssl:")]
  assert lines, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
  return lines[0]


def test_unknown_override_key(tmp_path):
  proc, _ = _main(
    "--config",
    "configs/quickstart.py:smoke",
    "--config.optim.nope=1",
    "--workdir",
    str(tmp_path),
  )
  assert proc.returncode != 0
  assert "'optim.nope'" in _error_line(proc)


def test_missing_config_file(tmp_path):
  proc, _ = _main("--config", "configs/missing.py", "--workdir", str(tmp_path))
  assert proc.returncode != 0
  line = _error_line(proc)
  assert line.startswith(
    "jaxssl: error: config file not found: configs/missing"
  )
  assert "can be named from any directory" in line and "quickstart," in line


def test_shipped_config_by_name_from_another_directory(tmp_path):
  # The name resolves before absl opens the file: the override is then
  # checked against the shipped quickstart (no training is started).
  proc, _ = _main(
    "--config=quickstart:smoke",
    "--config.optim.nope=1",
    "--workdir",
    str(tmp_path / "work"),
    cwd=tmp_path,
  )
  assert proc.returncode != 0
  assert "'optim.nope'" in _error_line(proc)


def test_invalid_value_named(tmp_path):
  proc, _ = _main(
    "--config",
    "configs/quickstart.py:smoke",
    "--config.optim.name=adam",
    "--workdir",
    str(tmp_path),
  )
  assert proc.returncode != 0
  assert "optim.name" in _error_line(proc)


def test_batch_not_divisible(tmp_path):
  proc, _ = _main(
    "--config",
    "configs/quickstart.py:smoke",
    "--config.train.batch_size=15",
    "--config.mesh.data=2",
    "--workdir",
    str(tmp_path),
  )
  assert proc.returncode != 0
  assert "train.batch_size=15" in _error_line(proc)


def test_missing_tfds_dataset_fails_fast(tmp_path):
  proc, seconds = _main(
    "--config",
    "configs/quickstart.py:smoke",
    "--config.data.name=cifar10",
    f"--config.data.data_dir={tmp_path}",
    "--workdir",
    str(tmp_path / "work"),
  )
  assert proc.returncode != 0
  line = _error_line(proc)
  assert "cifar10" in line and str(tmp_path) in line
  assert seconds < 60


def test_help_lists_flags():
  proc, _ = _main("--help")  # absl exits 1 after printing help
  assert "--workdir" in proc.stdout and "--config" in proc.stdout


def test_out_of_memory_names_the_keys_that_size_the_step():
  # The message main() prints for XLA's RESOURCE_EXHAUSTED (e.g. a view size
  # of 2400 on the quickstart asks XLA for 95 GB); provoking the real error
  # costs ~2 minutes of failing allocations here, so the message is checked
  # directly (the except clause in main() is two lines).
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top
  from jaxssl import main as main_lib  # pylint: disable=g-import-not-at-top

  config = configs_lib.load(os.path.join(ROOT, "configs", "dino_quick.py"))
  error = RuntimeError(
    "RESOURCE_EXHAUSTED: Out of memory allocating "
    "95110451972 bytes.\nmore XLA detail"
  )
  message = main_lib.out_of_memory_message(config, error)
  assert "\n" not in message.split("(set JAXSSL_TRACEBACK")[0].strip()
  assert "Out of memory allocating 95110451972 bytes" in message
  assert "config.train.batch_size=128" in message
  assert "config.data.views.global_crops.size=32 (x2)" in message
  assert "config.data.views.local_crops.size=16 (x4)" in message
  assert "more XLA detail" not in message
