"""The results-table runner: formatting, argument errors, a real smoke run."""

import json
import os

import pytest

from jaxssl import config_paths, zoo


def test_table_lists_every_column():
  summary = {
    "wall_s": 150.0,
    "train_s": 96.0,
    "steps": 400,
    "eval/knn_top1": 31.25,
    "eval/linear_top1": 40.0,
    "eval/knn_top1_random_init": 12.0,
    "eval/linear_top1_random_init": 20.0,
    "eval/knn_top1_raw_pixels": 15.5,
    "eval/knn_top1_pca": 17.0,
    "eval/linear_top1_pca": 18.5,
  }
  text = zoo.table({"simclr": summary})
  header, rule, row = text.splitlines()
  assert header.count("|") == rule.count("|") == row.count("|") == 9
  assert (
    "| simclr | 1.6 min (400 steps) | 2.5 min | 31.2 | 40.0 | 12.0 / 20.0 |"
  ) in row
  assert "15.5 / n/a" in row  # missing values are marked, not invented
  assert row.endswith("| 17.0 / 18.5 |")


def test_unknown_method_is_named(tmp_path, capsys):
  with pytest.raises(SystemExit):
    zoo.main(["--workdir", str(tmp_path), "--methods", "simclr,nope"])
  assert "nope" in capsys.readouterr().err


def test_missing_quick_config_is_named(tmp_path, capsys):
  with pytest.raises(SystemExit):
    zoo.main(
      [
        "--workdir",
        str(tmp_path),
        "--methods",
        "simclr",
        "--configs_dir",
        str(tmp_path),
      ]
    )
  assert "quickstart.py does not exist" in capsys.readouterr().err


def test_configs_dir_defaults_to_the_shipped_configs(capsys):
  with pytest.raises(SystemExit):
    zoo.main(["--help"])
  # argparse wraps the path anywhere (after a "-" too): compare unwrapped.
  help_text = "".join(capsys.readouterr().out.split())
  shipped = "".join(config_paths.shipped_dir().split())
  assert f"theconfigsshippedwithjaxssl,{shipped})" in help_text
  for name in ("simclr", "byol", "dino"):
    assert os.path.isfile(zoo.config_path(name, config_paths.shipped_dir()))


@pytest.mark.slow
def test_smoke_sweep_writes_the_table(tmp_path):
  # A configs dir whose quickstart is the smoke setting of the real one.
  root = os.path.dirname(os.path.dirname(__file__))
  configs = tmp_path / "configs"
  configs.mkdir()
  (configs / "quickstart.py").write_text(
    "from jaxssl import configs_lib\n"
    f"def get_config(arg=None):\n"
    "  c = configs_lib.load("
    f"{os.path.join(root, 'configs', 'quickstart.py')!r},"
    " 'smoke')\n"
    "  c.eval.max_train_examples = 128\n"
    "  return c\n"
  )
  work = tmp_path / "zoo"
  assert (
    zoo.main(
      [
        "--workdir",
        str(work),
        "--methods",
        "simclr",
        "--configs_dir",
        str(configs),
        "--no-progress_bar",
      ]
    )
    == 0
  )
  results = json.loads((work / "results.json").read_text())
  assert results["simclr"]["steps"] == 3
  assert 0 < results["simclr"]["train_s"] < results["simclr"]["wall_s"]
  assert "| simclr |" in (work / "results.md").read_text()
