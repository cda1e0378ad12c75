"""The train-step benchmark: compiles the real step, reports FLOPs and speed."""

import json
import os

import pytest

from jaxssl import bench, configs_lib
from jaxssl.bench import step as step_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
QUICKSTART = os.path.join(ROOT, "configs", "quickstart.py")


def test_compile_only_reports_params_and_flops(capsys):
  bench.main(["step", "--config", f"{QUICKSTART}:smoke", "--compile_only"])
  result = json.loads(capsys.readouterr().out)
  assert result["config"] == "simclr/tiny_resnet/embedded_digits"
  assert result["params"] > 100_000
  assert result["gflop_per_image"] > 0
  assert result["devices"] == 8 and result["batch_size"] == 16
  assert result["file"] == f"{QUICKSTART}:smoke"
  # Replicated: one device holds the whole state; XLA's analysis is there.
  assert result["params_bytes_per_device"] == 4 * result["params"]
  params_bytes = result["params_bytes_per_device"]
  assert result["state_bytes_per_device"] > 2 * params_bytes  # + momentum
  for key in ("argument_bytes", "output_bytes", "temp_bytes"):
    assert result[key] > 0
  assert result["fsdp"] is False and result["mesh"] == {"data": 8, "model": 1}


def test_set_key_types_and_errors():
  config = configs_lib.load(f"{QUICKSTART}:smoke")
  step_lib.set_key(config, "mesh.fsdp=true")
  step_lib.set_key(config, "mesh.fsdp_min_size=0")
  step_lib.set_key(config, "mesh.rules=(('kernel', (None, 'data')),)")
  assert config.mesh.fsdp is True and config.mesh.fsdp_min_size == 0
  assert config.mesh.rules == (("kernel", (None, "data")),)
  for item, match in [
    ("mesh.fsdp", "expected KEY=VALUE"),
    ("mesh.fsdq=true", "unknown config key 'mesh.fsdq'"),
    ("mesh.fsdp=maybe", "config.mesh.fsdp is a bool"),
    ("mesh.fsdp_min_size=big", "config.mesh.fsdp_min_size is int"),
  ]:
    with pytest.raises(ValueError, match=match):
      step_lib.set_key(config, item)


def test_several_configs_stream_one_markdown_table(capsys):
  bench.main(
    [
      "--compile_only",
      "--markdown",
      "--config",
      f"{QUICKSTART}:smoke",
      "--config",
      f"{QUICKSTART}:smoke",
    ]
  )
  header, rule, *rows = capsys.readouterr().out.strip().splitlines()
  assert header.startswith("| config |") and rule.startswith("|---|")
  assert len(rows) == 2 and rows[0] == rows[1].replace(
    rows[1].split("|")[6], rows[0].split("|")[6]
  )  # equal but compile time
  assert (
    "| quickstart.py:smoke | simclr/tiny_resnet/embedded_digits | 16 |"
    in rows[0]
  )


def test_markdown_table_one_row_per_config():
  results = [
    {
      "file": "configs/a.py",
      "config": "simclr/resnet50/imagenet2012",
      "batch_size": 4096,
      "params": 27_960_000,
      "compile_s": 41.2,
      "gflop_per_image": 24.5,
    },
    {
      "file": "configs/b.py",
      "config": "mae/vit_base/imagenet2012",
      "batch_size": 4096,
      "params": 111_700_000,
      "compile_s": 30.0,
      "gflop_per_image": 59.0,
    },
  ]
  header, rule, *rows = bench.markdown_table(results).splitlines()
  assert header.count("|") == rule.count("|") == rows[0].count("|") == 7
  assert rows == [
    "| a.py | simclr/resnet50/imagenet2012 | 4096 | 28.0M | 24.50 | 41 s |",
    "| b.py | mae/vit_base/imagenet2012 | 4096 | 111.7M | 59.00 | 30 s |",
  ]


def test_timed_step_on_one_device():
  config = configs_lib.load(QUICKSTART, "smoke")
  config.mesh.data = 1
  result = bench.bench_step(config, repeats=1, warmup=1)
  assert result["devices"] == 1
  assert result["images_per_s"] > 0
  assert 0 < result["fraction_of_matmul"] < 10
  spec = bench.batch_spec(config)
  assert spec["views"].shape == (16, 2, 32, 32, 3)


def test_missing_config_is_one_line_naming_it(tmp_path, capsys):
  missing = str(tmp_path / "missing.py")
  with pytest.raises(SystemExit):
    bench.main(["--config", missing, "--compile_only"])  # step by default
  err = capsys.readouterr().err
  assert err.splitlines()[-1].startswith("python -m jaxssl.bench step: error:")
  assert missing in err and "Traceback" not in err


def test_text_step_reports_tokens_per_second():
  config = configs_lib.load("bert_mlm_quick", "smoke")
  config.mesh.data = 1
  result = bench.bench_step(config, repeats=1, warmup=1)
  b, seq_len = config.train.batch_size, config.data.seq_len
  assert result["tokens_per_s"] == pytest.approx(
    result["images_per_s"] * seq_len
  )
  assert result["tokens_per_s_per_device"] == result["tokens_per_s"]
  assert result["gflop_per_token"] == pytest.approx(
    result["gflop_per_step"] / (b * seq_len)
  )
