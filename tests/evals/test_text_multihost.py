"""The text protocols on two processes (jax.distributed, 2 CPU devices each)
give the scores of one process with 8 devices: the rows each host feeds and
the gathers of `evals.sharded`, and masks that depend on a window only."""

import json
import os
import socket
import subprocess
import sys

import pytest
import text_testing
from text_testing import text_toy  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("text_toy")]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))

_SCRIPT = """
import json, sys
import jax
jax.distributed.initialize(sys.argv[1], 2, int(sys.argv[2]))
assert jax.process_count() == 2 and len(jax.devices()) == 4
import text_testing
from jaxssl import methods
methods.METHODS["text_toy"] = text_testing.TEXT_TOY
print("RESULT", json.dumps(text_testing.scores()))
"""


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_score_as_one(tmp_path):
  want = text_testing.scores()
  script = tmp_path / "score.py"
  script.write_text(_SCRIPT)
  env = dict(
    os.environ,
    XLA_FLAGS="--xla_force_host_platform_device_count=2",
    PYTHONPATH=os.pathsep.join([ROOT, HERE]),
  )
  address = f"127.0.0.1:{_free_port()}"
  procs = [
    subprocess.Popen(
      [sys.executable, str(script), address, str(i)],
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
  for out in outs:
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    got = json.loads(line.removeprefix("RESULT "))
    assert got.keys() == want.keys()
    for k, v in want.items():
      if isinstance(v, str):
        assert got[k] == v, k
      else:
        assert got[k] == pytest.approx(v, rel=1e-4), k
