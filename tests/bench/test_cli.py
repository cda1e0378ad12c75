"""`python -m jaxssl.bench`: one parser, a sub-parser per benchmark."""

import subprocess
import sys

import pytest

from jaxssl import bench
from jaxssl.bench import timing


@pytest.mark.parametrize(
  "command", ["step", "losses", "backbones", "checkpoint", "torch_step"]
)
def test_each_sub_command_has_its_help(command, capsys):
  with pytest.raises(SystemExit) as exit_info:
    bench.main([command, "--help"])
  assert exit_info.value.code == 0
  out = capsys.readouterr().out
  assert out.startswith(f"usage: python -m jaxssl.bench {command}")
  assert bench.COMMANDS[command].__doc__.splitlines()[0] in out


def test_top_level_help_lists_the_sub_commands(capsys):
  with pytest.raises(SystemExit):
    bench.main(["--help"])
  out = capsys.readouterr().out
  for command in bench.COMMANDS:
    assert f"    {command} " in out


def test_a_flag_first_selects_step(capsys):
  with pytest.raises(SystemExit):
    bench.main(["--compile_only"])  # step's --config is required
  err = capsys.readouterr().err
  assert "python -m jaxssl.bench step: error:" in err and "--config" in err


def test_no_sub_command_is_an_error_listing_them(capsys):
  with pytest.raises(SystemExit):
    bench.main([])
  last = capsys.readouterr().err.splitlines()[-1]
  assert "{step,losses,backbones,checkpoint,torch_step}" in last


def test_python_dash_m_runs_main():
  proc = subprocess.run(
    [sys.executable, "-m", "jaxssl.bench", "backbones", "--help"],
    capture_output=True,
    text=True,
    timeout=120,
    check=True,
  )
  assert "--impls" in proc.stdout


def test_one_matmul_ceiling_for_every_shape():
  assert bench.matmul_gflops is timing.matmul_gflops
  assert timing.matmul_gflops((64, 8, 32), repeats=1) > 0  # [m, k] x [k, n]


def test_format_table_aligns_columns():
  text = timing.format_table([{"a": 1, "bb": "x"}, {"a": 100, "bb": "yy"}])
  assert text.splitlines() == ["a    bb", "1    x", "100  yy"]
