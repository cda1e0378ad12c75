"""Bad input: one `ValueError` line naming the culprit, and nothing written.

Each row of `CASES` is one bad input to `jaxssl.train.run` (what
`python -m jaxssl.main` prints as `jaxssl: error: <the line>`): the config
change, and a piece of the message that names the culprit. The run must
fail before it creates the workdir. The README's bad-input table lists
these rows beside the cases tested elsewhere (the command line, the data
sources, checkpoints, the losses' property tests).
"""

import os

import numpy as np
import pytest

from jaxssl import configs_lib, train

QUICKSTART = os.path.join(
  os.path.dirname(__file__), "..", "..", "configs", "quickstart.py"
)


def _set(path, value):
  def change(c):
    node = c
    *parents, leaf = path.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value

  return change


def _all(*changes):
  def change(c):
    for ch in changes:
      ch(c)

  return change


# (id, change of the quickstart smoke config, text the one line must hold)
CASES = [
  ("unknown_key", _set("optim.nope", 1), "'optim.nope'"),
  ("unknown_section_key", _set("train.checkpoint_every", 5), "train.checkpo"),
  ("foreign_method_key", _set("method.ema", 0.99), "method.ema"),
  ("unknown_method", _set("method.name", "simclrr"), "method.name='simclrr'"),
  ("unknown_model", _set("model.name", "resnet19"), "model.name='resnet19'"),
  ("unknown_optimizer", _set("optim.name", "adam"), "optim.name='adam'"),
  ("unknown_lr_scaling", _set("optim.lr_scaling", "sqrt"), "optim.lr_scaling"),
  ("lr_not_positive", _set("optim.lr", -1.0), "optim.lr=-1.0"),
  ("negative_weight_decay", _set("optim.weight_decay", -0.1), "weight_decay"),
  ("warmup_beyond_run", _set("optim.warmup_steps", 10**6), "warmup_steps"),
  ("batch_size_zero", _set("train.batch_size", 0), "train.batch_size=0"),
  ("total_steps_zero", _set("train.total_steps", 0), "total_steps=0"),
  ("log_every_zero", _set("train.log_every_steps", 0), "log_every_steps"),
  ("eval_every_negative", _set("train.eval_every_steps", -5), "eval_every"),
  ("ckpt_every_negative", _set("train.ckpt_every_steps", -1), "ckpt_every"),
  ("max_to_keep_zero", _set("train.max_to_keep", 0), "max_to_keep"),
  ("unknown_nan_policy", _set("train.nan_policy", "ignore"), "nan_policy"),
  (
    "batch_not_divisible",
    _all(_set("train.batch_size", 12), _set("mesh.data", 8)),
    "batch_size=12 is not divisible",
  ),
  ("mesh_larger_than_devices", _set("mesh.data", 16), "needs 16 devices"),
  ("mesh_model_zero", _set("mesh.model", 0), "mesh.model=0"),
  ("mesh_data_zero", _set("mesh.data", 0), "mesh.data=0"),
  ("unknown_dataset", _set("data.name", "cifar11"), "data.name='cifar11'"),
  ("unknown_data_kind", _set("data.kind", "audio"), "data.kind='audio'"),
  ("kind_not_for_method", _set("data.kind", "tokens"), "method 'simclr'"),
  ("image_size_zero", _set("data.image_size", 0), "data.image_size=0"),
  ("view_larger_than_images", _set("data.views.views.size", 64), "larger"),
  ("no_view_groups", _set("data.views", {}), "data.views"),
  ("view_count_zero", _set("data.views.views.num_views", 0), "num_views"),
  (
    "crop_scale_out_of_range",
    _set("data.views.views.crop_scale", (0.5, 1.5)),
    "crop_scale",
  ),
  ("probability_above_one", _set("data.views.views.gray_prob", 1.5), "gray"),
  ("temperature_zero", _set("method.temperature", 0.0), "temperature"),
  ("unknown_protocol", _set("eval.protocols", ("nope",)), "'nope'"),
  ("protocol_unfit", _set("eval.protocols", ("mlm",)), "does not fit"),
  ("knn_k_zero", _set("eval.knn_k", 0), "eval.knn_k=0"),
  ("pca_components_zero", _set("eval.pca_components", 0), "pca_components"),
  (
    "image_folder_missing",
    _all(_set("data.name", "image_folder"), _set("data.data_dir", "/no/dir")),
    "/no/dir",
  ),
  (
    "arrays_without_data_dir",
    _set("data.name", "arrays"),
    "config.data.data_dir",
  ),
]


@pytest.fixture(name="config")
def _config():
  return configs_lib.load(QUICKSTART, "smoke")


@pytest.mark.parametrize(
  "change, culprit", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_config_is_one_line_and_writes_nothing(
  config, tmp_path, change, culprit
):
  change(config)
  workdir = tmp_path / "run"
  with pytest.raises(ValueError) as err:
    train.run(config, str(workdir))
  message = str(err.value)
  assert "\n" not in message, message
  assert culprit in message, message
  assert not workdir.exists(), os.listdir(workdir)


def test_case_ids_are_unique():
  ids = [c[0] for c in CASES]
  assert len(ids) == len(set(ids))


def _image_folder(root, n=6):
  from PIL import Image  # pylint: disable=g-import-not-at-top

  rng = np.random.default_rng(0)
  for split in ("train", "test"):
    for label in ("a", "b"):
      folder = root / split / label
      folder.mkdir(parents=True)
      for i in range(n):
        pixels = rng.integers(0, 255, (32, 32, 3), np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
  return root


def _folder_config(config, root):
  config.data.name = "image_folder"
  config.data.data_dir = str(root)
  config.eval.baselines = False
  return config


def test_undecodable_image_is_named(config, tmp_path):
  root = _image_folder(tmp_path / "data")
  bad = root / "train" / "b" / "3.png"
  bad.write_bytes(b"not an image at all")
  with pytest.raises(ValueError) as err:
    train.run(_folder_config(config, root), str(tmp_path / "run"))
  message = str(err.value)
  assert "\n" not in message and "{{" not in message, message
  assert f"cannot decode the image {bad}" in message, message
  assert not (tmp_path / "run" / "checkpoints" / "0").exists()


def test_empty_split_is_named(config, tmp_path):
  root = _image_folder(tmp_path / "data")
  for f in (root / "test").rglob("*.png"):
    f.unlink()
  workdir = tmp_path / "run"
  with pytest.raises(ValueError, match="split 'test' of dataset 'image_fo"):
    train.run(_folder_config(config, root), str(workdir))
  assert not workdir.exists()


def test_missing_split_is_named(config, tmp_path):
  root = _image_folder(tmp_path / "data")
  for f in (root / "test").rglob("*.png"):
    f.unlink()
  for d in sorted((root / "test").rglob("*"), reverse=True):
    d.rmdir()
  (root / "test").rmdir()
  with pytest.raises(ValueError, match="has no split 'test'"):
    train.run(_folder_config(config, root), str(tmp_path / "run"))
