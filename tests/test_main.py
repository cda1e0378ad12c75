"""The command line: one-line errors naming the culprit, and --help."""

import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(__file__))
pytestmark = pytest.mark.slow


def _main(*args, timeout=120):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  t0 = time.perf_counter()
  proc = subprocess.run([sys.executable, "-m", "jaxssl.main", *args],
                        cwd=ROOT, env=env, capture_output=True, text=True,
                        timeout=timeout, check=False)
  return proc, time.perf_counter() - t0


def _error_line(proc):
  lines = [l for l in proc.stderr.splitlines() if l.startswith("jaxssl:")]
  assert lines, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
  return lines[0]


def test_unknown_override_key(tmp_path):
  proc, _ = _main("--config", "configs/quickstart.py:smoke",
                  "--config.optim.nope=1", "--workdir", str(tmp_path))
  assert proc.returncode != 0
  assert "'optim.nope'" in _error_line(proc)


def test_missing_config_file(tmp_path):
  proc, _ = _main("--config", "configs/missing.py", "--workdir",
                  str(tmp_path))
  assert proc.returncode != 0
  assert "configs/missing.py" in _error_line(proc)


def test_invalid_value_named(tmp_path):
  proc, _ = _main("--config", "configs/quickstart.py:smoke",
                  "--config.optim.name=adam", "--workdir", str(tmp_path))
  assert proc.returncode != 0
  assert "optim.name" in _error_line(proc)


def test_batch_not_divisible(tmp_path):
  proc, _ = _main("--config", "configs/quickstart.py:smoke",
                  "--config.train.batch_size=15", "--config.mesh.data=2",
                  "--workdir", str(tmp_path))
  assert proc.returncode != 0
  assert "train.batch_size=15" in _error_line(proc)


def test_missing_tfds_dataset_fails_fast(tmp_path):
  proc, seconds = _main(
      "--config", "configs/quickstart.py:smoke",
      "--config.data.name=cifar10", f"--config.data.data_dir={tmp_path}",
      "--workdir", str(tmp_path / "work"))
  assert proc.returncode != 0
  line = _error_line(proc)
  assert "cifar10" in line and str(tmp_path) in line
  assert seconds < 60


def test_help_lists_flags():
  proc, _ = _main("--help")  # absl exits 1 after printing help
  assert "--workdir" in proc.stdout and "--config" in proc.stdout
