"""Source `image_text_folder` of the image_text kind, and the openclipart
converter (jaxssl.data.image_text_sources)."""

import itertools
import os

import ml_collections
import numpy as np
import pytest
from PIL import Image

from jaxssl import configs_lib, methods
from jaxssl.data import image_text_sources, kinds, sources, tokenizer
from jaxssl.data.kinds import image_text
from jaxssl.methods import base

KIND = kinds.get("image_text")
ON_PAIRS = base.MethodDef(
  name="on_pairs_folder",
  build=lambda config: None,
  config=ml_collections.ConfigDict,
  data_kinds=("image_text",),
)
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
  monkeypatch.setenv("JAXSSL_CACHE_DIR", str(tmp_path / "cache"))
  monkeypatch.setattr(tokenizer, "_LOADED", {})
  monkeypatch.setitem(methods.METHODS, ON_PAIRS.name, ON_PAIRS)
  image_text.clear_cache()
  sources.clear_cache()
  yield
  image_text.clear_cache()
  sources.clear_cache()


def _write(root, split, cls, stem, colour, caption=None, size=(12, 9)):
  folder = os.path.join(root, split, *([cls] if cls else []))
  os.makedirs(folder, exist_ok=True)
  Image.new("RGB", size, COLOURS[colour]).save(f"{folder}/{stem}.png")
  if caption is not None:
    with open(f"{folder}/{stem}.txt", "w", encoding="utf-8") as f:
      f.write(caption)


def _folder(root, classes=True):
  """train: 3 images per colour class, test: 1; captions name the colour
  and the image's number."""
  for split, n in (("train", 3), ("test", 1)):
    for colour in COLOURS:
      for i in range(n):
        _write(
          root,
          split,
          f"{colour}_things" if classes else "",
          f"{colour}{i}",
          colour,
          f"  a {colour}\n square number {i} ",
        )
  return str(root)


def _config(data_dir, **data):
  config = configs_lib.base_config(ON_PAIRS.name)
  config.data.name = "image_text_folder"
  config.data.data_dir = data_dir
  config.data.image_size = 8
  config.train.batch_size = 4
  for key, value in data.items():
    config.data[key] = value
  return configs_lib.validate(config)


def test_labels_captions_and_batches_follow_the_folder(tmp_path):
  config = _config(_folder(tmp_path / "data"))
  info = KIND.info(config)
  assert (info.num_classes, info.num_train, info.num_eval) == (3, 9, 3)
  assert image_text.class_names(config) == (
    "blue things",
    "green things",
    "red things",
  )
  caps = image_text.captions(config, "train")
  assert caps[0] == "a blue square number 0"  # white space collapsed
  batches = list(
    itertools.islice(
      KIND.train_batches(config, process_index=0, process_count=1), 6
    )
  )
  mean, std = np.array(config.data.mean), np.array(config.data.std)
  rgb = {0: (0, 0, 1), 1: (0, 1, 0), 2: (1, 0, 0)}  # label -> colour
  want_rows = image_text.encode_texts(config, caps)["tokens"]
  for b in batches:
    for img, y, idx, tokens in zip(
      b["image"], b["label"], b["index"], b["tokens"]
    ):
      # The image is its class's colour, its caption its own file's.
      np.testing.assert_allclose(
        img.mean((0, 1)) * std + mean, rgb[int(y)], atol=0.02
      )
      assert caps[idx].split()[1] == ["blue", "green", "red"][y]
      np.testing.assert_array_equal(tokens, want_rows[idx])
  seen = np.concatenate([b["index"] for b in batches])
  assert set(seen) == set(range(9))  # 24 draws cover the 9 images
  ev = next(iter(KIND.eval_batches(config, "test", batch_size=4)))
  assert ev["valid"].tolist() == [True, True, True, False]
  np.testing.assert_array_equal(ev["label"][:3], [0, 1, 2])
  np.testing.assert_array_equal(
    ev["tokens"][:3],
    image_text.encode_texts(config, image_text.captions(config, "test"))[
      "tokens"
    ],
  )


def test_without_class_folders_labels_are_zero_and_no_zeroshot(tmp_path):
  config = _config(_folder(tmp_path / "data", classes=False))
  info = KIND.info(config)
  assert (info.num_classes, info.num_train) == (1, 9)
  assert len(image_text.captions(config, "train")) == 9
  with pytest.raises(ValueError, match="no class folders"):
    image_text.class_names(config)


@pytest.mark.parametrize(
  "make, match",
  [
    (lambda r: os.makedirs(r / "train"), "holds no images"),
    (lambda r: None, "no split folders"),
    (
      lambda r: _write(r, "train", "a", "x", "red", caption=None),
      "has no caption file .*x.txt",
    ),
    (lambda r: _write(r, "train", "a", "x", "red", ""), "is empty"),
    (
      lambda r: (
        _write(r, "train", "a", "x", "red", "a x"),
        _write(r, "train", "", "y", "red", "a y"),
      ),
      "mixes images",
    ),
    (
      lambda r: (
        _write(r, "train", "a", "x", "red", "a x"),
        (r / "train" / "a" / "z.txt").write_text("orphan"),
      ),
      "z.txt' has no image",
    ),
    (
      lambda r: (
        _write(r, "train", "a", "x", "red", "a x"),
        _write(r, "test", "", "x", "red", "a x"),
      ),
      "have class folders but",
    ),
  ],
  ids=[
    "empty",
    "no_splits",
    "no_caption",
    "empty_caption",
    "mixed",
    "orphan",
    "layouts_differ",
  ],
)
def test_bad_folders_give_one_line_errors(tmp_path, make, match):
  root = tmp_path / "data"
  root.mkdir()
  make(root)
  with pytest.raises(ValueError, match=match) as e:
    KIND.info(_config(str(root), eval_split="train"))
  assert "\n" not in str(e.value)
  assert str(e.value).startswith("config.data.data_dir")


def test_a_split_may_lack_a_class(tmp_path):
  root = tmp_path / "data"
  _write(root, "train", "a", "x", "red", "a x")
  _write(root, "train", "b", "y", "green", "a y")
  _write(root, "test", "b", "z", "blue", "a z")
  assert image_text_sources.class_names(str(root)) == ("a", "b")
  test = image_text_sources.load_split(str(root), "test")
  np.testing.assert_array_equal(test.labels, [1])  # "b" is class 1 in both
  assert test.captions == ("a z",)


def test_missing_folder_and_split(tmp_path):
  with pytest.raises(ValueError, match="needs data_dir to be a folder"):
    KIND.info(_config(str(tmp_path / "nope")))
  root = _folder(tmp_path / "data")
  with pytest.raises(ValueError, match="no split 'val'"):
    image_text_sources.load_split(root, "val")


def test_openclipart_caption():
  assert (
    image_text_sources.openclipart_caption(
      "Soft_Blue  Couch!", "buildings/furniture/soft_blue_couch_01.png"
    )
    == "soft blue couch, furniture"
  )
  assert (
    image_text_sources.openclipart_caption("l&eacute;zard", "animals/x.png")
    == "lézard"
  )
  assert (
    image_text_sources.openclipart_caption("", "food/apple_red_01.png")
    == "apple red"
  )


def test_write_openclipart_makes_a_loadable_folder(tmp_path):
  src = tmp_path / "png"
  for rel, title in [
    ("animals/birds/swan_01.png", "Cigno"),
    ("animals/cat.png", "Cat"),
    ("food/fruit/apple.png", "Red apple"),
  ]:
    path = src / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    info = __import__("PIL.PngImagePlugin").PngImagePlugin.PngInfo()
    info.add_text("Title", title)
    Image.new("RGBA", (30, 10), (0, 0, 0, 0)).save(path, pnginfo=info)
  (src / "food" / "broken.png").write_bytes(b"not a png")
  out = tmp_path / "out"
  sizes = image_text_sources.write_openclipart(
    str(out), source_dir=str(src), image_size=16, test_fraction=0.0
  )
  assert sizes == {"train": 3, "test": 0}
  split = image_text_sources.load_split(str(out), "train")
  assert image_text_sources.class_names(str(out)) == ("animals", "food")
  assert list(split.captions) == ["cat", "cigno, birds", "red apple, fruit"]
  np.testing.assert_array_equal(split.labels, [0, 0, 1])
  im = np.asarray(Image.open(split.paths[0]))
  assert im.shape == (16, 16, 3) and (im == 255).all()  # transparent -> white
