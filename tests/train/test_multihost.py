"""Two processes on 127.0.0.1 (jax.distributed), 2 CPU devices each."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from jaxssl.train import writer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
pytestmark = pytest.mark.slow


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_train_checkpoint_and_resume(tmp_path):
  workdir = str(tmp_path / "run")
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")

  def launch(total_steps):
    port = _free_port()
    procs = [
      subprocess.Popen(
        [
          sys.executable,
          "-m",
          "jaxssl.main",
          "--config",
          "configs/quickstart.py:smoke",
          f"--config.train.total_steps={total_steps}",
          "--config.train.progress_bar=false",
          "--coordinator_address",
          f"127.0.0.1:{port}",
          "--num_processes",
          "2",
          "--process_id",
          str(i),
          "--workdir",
          workdir,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
      )
      for i in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outs):
      assert p.returncode == 0, out[-3000:]
    return outs

  outs = launch(2)
  assert "2 process(es)" in outs[0] and "mesh {'data': 4" in outs[0]
  outs = launch(4)  # same workdir: both processes resume from step 2
  assert "Resuming from the checkpoint at step 2" in outs[0]
  rows = [r for r in writer.read_metrics(workdir) if "train/loss" in r]
  assert [r["step"] for r in rows] == [1, 2, 3, 4]
  assert np.all(np.isfinite([r["train/loss"] for r in rows]))
  assert os.path.isdir(os.path.join(workdir, "checkpoints", "4"))
