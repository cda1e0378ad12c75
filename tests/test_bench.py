"""The train-step benchmark: compiles the real step, reports FLOPs and speed."""

import json
import os

from jaxssl import bench
from jaxssl import configs_lib

ROOT = os.path.dirname(os.path.dirname(__file__))
QUICKSTART = os.path.join(ROOT, "configs", "quickstart.py")


def test_compile_only_reports_params_and_flops(capsys):
  bench.main(["--config", f"{QUICKSTART}:smoke", "--compile_only"])
  result = json.loads(capsys.readouterr().out)
  assert result["config"] == "simclr/tiny_resnet/embedded_digits"
  assert result["params"] > 100_000
  assert result["gflop_per_image"] > 0
  assert result["devices"] == 8 and result["batch_size"] == 16


def test_timed_step_on_one_device():
  config = configs_lib.load(QUICKSTART, "smoke")
  config.mesh.data = 1
  result = bench.bench_step(config, repeats=1, warmup=1)
  assert result["devices"] == 1
  assert result["images_per_s"] > 0
  assert 0 < result["fraction_of_matmul"] < 10
  spec = bench.batch_spec(config)
  assert spec["views"].shape == (16, 2, 32, 32, 3)
