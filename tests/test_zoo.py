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
  # Again with the few-shot probes: the finished run is only re-evaluated.
  argv = ["--workdir", str(work), "--methods", "simclr"]
  argv += ["--configs_dir", str(configs), "--no-progress_bar"]
  assert zoo.main(argv + ["--protocols", "fewshot"]) == 0
  again = json.loads((work / "results.json").read_text())["simclr"]
  assert (
    again["steps"] == 3 and again["train_s"] == results["simclr"]["train_s"]
  )
  assert 0 <= again["eval/fewshot_1shot"] <= 100
  assert "| simclr | learned |" in (work / "results.md").read_text()


def test_table_with_the_supervised_column():
  summary = {"wall_s": 60.0, "train_s": 30.0, "steps": 3}
  supervised = {"eval/knn_top1": 80.25, "eval/linear_top1": 85.0}
  text = zoo.table({"simclr": summary, "byol": summary}, {"simclr": supervised})
  header, rule, simclr, byol = text.splitlines()
  assert header.count("|") == rule.count("|") == simclr.count("|") == 10
  assert header.endswith("| supervised (same backbone, budget) kNN / linear |")
  assert simclr.endswith("| 80.2 / 85.0 |")
  assert byol.endswith("| n/a / n/a |")
  # Without a supervised mapping the table is the embedded-digits one.
  assert zoo.table({"simclr": summary}).splitlines()[0].count("|") == 9


def test_overrides_parse_and_name_bad_keys():
  assert zoo.parse_override("data.name=fashion_mnist") == (
    "data.name",
    "fashion_mnist",
  )
  assert zoo.parse_override("data.max_train_per_class=1400")[1] == 1400
  assert zoo.parse_override("data.pad_to_size=True")[1] is True
  with pytest.raises(ValueError, match="KEY=VALUE"):
    zoo.parse_override("data.name")
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top

  config = configs_lib.load("quickstart")
  zoo.apply_overrides(config, zoo.DATA_PRESETS["fashion_mnist"])
  assert config.data.name == "fashion_mnist" and config.data.pad_to_size
  with pytest.raises(ValueError, match="data.nope: unknown config key"):
    zoo.apply_overrides(config, {"data.nope": 1})


def test_supervised_baseline_shares_backbone_and_budget():
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top

  mae = configs_lib.load("mae_quick")
  sup = zoo.supervised_config(mae, configs_lib.load("supervised_quick"))
  sup = configs_lib.validate(sup)
  assert sup.method.name == "supervised" and sup.model.name == mae.model.name
  assert (sup.train.total_steps, sup.train.batch_size) == (
    mae.train.total_steps,
    mae.train.batch_size,
  )
  assert zoo.supervised_key(sup) == zoo.supervised_key(mae)
  assert zoo.supervised_key(sup) != zoo.supervised_key(
    configs_lib.load("quickstart")
  )
  # A ViT trains supervised with AdamW (DeiT), a ResNet keeps SGD 0.1.
  assert sup.optim.name == "adamw" and sup.optim.weight_decay == 0.05
  assert sup.optim.lr == zoo.VIT_OPTIM["lr"]
  res = zoo.supervised_config(
    configs_lib.load("quickstart"), configs_lib.load("supervised_quick")
  )
  assert (res.optim.name, res.optim.lr) == ("sgd", 0.1)


@pytest.mark.slow
def test_smoke_sweep_on_arrays_with_the_supervised_column(tmp_path, capsys):
  import gzip  # pylint: disable=g-import-not-at-top
  import struct  # pylint: disable=g-import-not-at-top

  import numpy as np  # pylint: disable=g-import-not-at-top

  rng = np.random.default_rng(0)
  data = tmp_path / "idx"
  data.mkdir()
  for prefix, n in (("train", 40), ("t10k", 20)):
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    for what, values in (("images-idx3", images), ("labels-idx1", labels)):
      header = bytes([0, 0, 0x08, values.ndim])
      header += struct.pack(f">{values.ndim}I", *values.shape)
      with gzip.open(data / f"{prefix}-{what}-ubyte.gz", "wb") as f:
        f.write(header + values.tobytes())
  work = tmp_path / "zoo"
  argv = ["--workdir", str(work), "--methods", "simclr", "--smoke"]
  argv += ["--data", "fashion_mnist", "--override", f"data.data_dir={data}"]
  assert zoo.main([*argv, "--no-progress_bar"]) == 0
  results = json.loads((work / "results.json").read_text())
  assert sorted(results) == [
    "simclr",
    "supervised-tiny_resnet-p16cls-32px-3x16",
  ]
  table = (work / "results.md").read_text()
  assert "supervised (same backbone, budget)" in table
  assert "fashion_mnist (40 train examples)" in capsys.readouterr().out


def test_ladder_table_rows_per_encoder():
  learned = {
    "eval/knn_top1": 31.25,
    "eval/knn_top5": 70.0,
    "eval/knn_top1_random_init": 12.0,
    "eval/fewshot_1shot": 20.0,
    "eval/fewshot_5shot": 25.0,
    "eval/fewshot_10shot": 27.5,
    "eval/fewshot_25shot": 30.0,
    "eval/fewshot_1shot_random_init": 11.0,
    "eval/finetune_100pct": 90.0,
  }
  supervised = {"eval/knn_top1": 80.0, "eval/linear_top5": 99.0}
  assert zoo.has_ladder({"simclr": learned})
  assert not zoo.has_ladder({"simclr": {"eval/knn_top1": 1.0}})
  text = zoo.ladder_table({"simclr": learned}, {"simclr": supervised})
  header, rule, *rows = text.splitlines()
  assert len(rows) == 3
  assert header.count("|") == rule.count("|") == 7
  assert all(r.count("|") == 7 for r in rows)
  learned_row, random_row, supervised_row = rows
  assert "| simclr | learned | 31.2 / 70.0 | n/a / n/a |" in learned_row
  assert "| 20.0 / 25.0 / 27.5 / 30.0 | n/a / n/a / 90.0 |" in learned_row
  assert random_row.startswith("| | random init | 12.0 / n/a |")
  assert "| 11.0 / n/a / n/a / n/a |" in random_row
  assert supervised_row.startswith("| | supervised | 80.0 / n/a | n/a / 99.0 |")


def test_unknown_protocol_is_named(tmp_path, capsys):
  with pytest.raises(SystemExit):
    zoo.main(["--workdir", str(tmp_path), "--protocols", "fewshot,nope"])
  assert "--protocols: unknown ['nope']" in capsys.readouterr().err
