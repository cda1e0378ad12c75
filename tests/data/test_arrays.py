"""Tests for jaxssl.data.arrays and the `arrays` / `fashion_mnist` sources.

Every file is written here, into tmp_path: IDX files by hand from the
format's definition (struct-packed header, big-endian values), .npz / .npy
with NumPy. The pipeline's output is compared with NumPy references (the
stored pixels, `np.pad`, a per-class loop).
"""

import gzip
import itertools
import os
import struct

import numpy as np
import pytest

from jaxssl import configs_lib
from jaxssl.data import arrays, kinds, pipeline, sources

CLASSES, SIDE = 3, 6
NUM = {"train": 14, "test": 7}


@pytest.fixture(autouse=True)
def _fresh_cache():
  sources.clear_cache()
  yield
  sources.clear_cache()


def _write_idx(path, values, code=0x08, magic=b"\0\0"):
  values = np.asarray(values)
  dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
  header = magic + bytes([code, values.ndim])
  header += struct.pack(f">{values.ndim}I", *values.shape)
  data = header + values.astype(dtype).tobytes()
  opener = gzip.open if str(path).endswith(".gz") else open
  with opener(path, "wb") as f:
    f.write(data)


def _data(split):
  """Images whose every pixel encodes (split, index); labels cycle."""
  n = NUM[split]
  rng = np.random.default_rng(0 if split == "train" else 1)
  images = rng.integers(1, 256, (n, SIDE, SIDE), dtype=np.uint8)
  labels = (np.arange(n) * 7 % CLASSES).astype(np.uint8)
  return images, labels


@pytest.fixture(name="idx_dir")
def _idx_dir(tmp_path):
  """MNIST-style files: train-* gzipped, t10k-* plain."""
  for split, prefix, suffix in (
    ("train", "train", ".gz"),
    ("test", "t10k", ""),
  ):
    images, labels = _data(split)
    _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", images)
    _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
  return str(tmp_path)


def _config(data_dir, name="arrays", kind="views"):
  config = configs_lib.base_config("supervised", data_kind=kind)
  config.data.name = name
  config.data.data_dir = data_dir
  config.data.image_size = 8
  config.data.mean, config.data.std = (0, 0, 0), (1, 1, 1)
  config.train.batch_size = 4
  if kind == "views":
    config.data.views.views = configs_lib.view_group(num_views=2, size=8)
  return configs_lib.validate(config)


def _eval_images(config, split):
  batches = pipeline.eval_batches(
    config, split, batch_size=4, process_index=0, process_count=1
  )
  batches = list(batches)
  valid = np.concatenate([b["valid"] for b in batches])
  images = np.concatenate([b["image"] for b in batches])[valid]
  labels = np.concatenate([b["label"] for b in batches])[valid]
  return images, labels


def _take(config, n, **kwargs):
  kwargs = {"process_index": 0, "process_count": 1, **kwargs}
  batches = kinds.get(config.data.kind).train_batches(config, **kwargs)
  return list(itertools.islice(batches, n))


# IDX parsing ------------------------------------------------------------------


@pytest.mark.parametrize("code", [0x08, 0x0B, 0x0D])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_parses_header_dtype_and_dims(tmp_path, code, suffix):
  values = np.arange(2 * 3 * 5).reshape(2, 3, 5) * (3 if code != 0x08 else 1)
  path = str(tmp_path / f"x-images-idx3-ubyte{suffix}")
  _write_idx(path, values, code=code)
  out = arrays.read_idx(path)
  assert out.shape == (2, 3, 5)
  assert out.dtype == {0x08: np.uint8, 0x0B: np.int16, 0x0D: np.float32}[code]
  np.testing.assert_array_equal(out, values)


def test_read_idx_rejects_bad_files(tmp_path):
  path = str(tmp_path / "bad-images-idx3-ubyte")
  _write_idx(path, np.zeros((2, 2, 2)), magic=b"\x1f\x8b")
  with pytest.raises(ValueError, match=r"bad-images.*magic number 0x1f8b"):
    arrays.read_idx(path, data_dir=str(tmp_path))
  with open(path, "wb") as f:
    f.write(b"\0\0\x07\x01" + struct.pack(">I", 3) + b"abc")
  with pytest.raises(ValueError, match="unknown IDX type code 0x07"):
    arrays.read_idx(path)
  _write_idx(path, np.zeros((2, 2, 2)))
  with open(path, "ab") as f:
    f.write(b"extra")
  with pytest.raises(ValueError, match=r"13 bytes .* \(2, 2, 2\) x 1 = 8"):
    arrays.read_idx(path)


def test_per_class_keeps_the_first_of_each_class_in_stored_order():
  labels = np.array([2, 0, 0, 1, 2, 0, 2, 2, 1, 0])
  kept = arrays.per_class(labels, 2)
  expected, seen = [], {}
  for i, label in enumerate(labels):  # the plain-Python reference
    seen[label] = seen.get(label, 0) + 1
    if seen[label] <= 2:
      expected.append(i)
  np.testing.assert_array_equal(kept, expected)
  np.testing.assert_array_equal(arrays.per_class(labels, 99), np.arange(10))


# The arrays source ------------------------------------------------------------


def test_idx_folder_gives_the_stored_pixels_padded_and_rgb(idx_dir):
  config = _config(idx_dir)
  info = pipeline.dataset_info(config)
  assert (info.num_classes, info.num_train, info.num_eval) == (
    CLASSES,
    NUM["train"],
    NUM["test"],
  )
  config.data.pad_to_size = True
  for split in ("train", "test"):  # kNN bank and eval split
    images, labels = _eval_images(config, split)
    stored, stored_labels = _data(split)
    padded = np.pad(stored, ((0, 0), (1, 1), (1, 1))) / 255.0
    np.testing.assert_allclose(images, np.stack([padded] * 3, -1), atol=1e-6)
    np.testing.assert_array_equal(labels, stored_labels)
  batch = _take(config, 1)[0]
  assert batch["views"].shape == (4, 2, 8, 8, 3)
  # Without padding the 6-px images are resized (not padded) to 8.
  config.data.pad_to_size = False
  images, _ = _eval_images(config, "test")
  assert images.shape == (NUM["test"], 8, 8, 3)
  assert (images[:, 0] > 0).all()


@pytest.mark.parametrize("layout", ["npz_file", "split_npz", "npy"])
def test_npz_and_npy_layouts_read_the_same_data(tmp_path, layout):
  train, test = _data("train"), _data("test")
  if layout == "npz_file":
    data_dir = str(tmp_path / "fashion.npz")
    np.savez(
      data_dir,
      x_train=train[0],
      y_train=train[1],
      x_test=test[0],
      y_test=test[1],
    )
  elif layout == "split_npz":
    data_dir = str(tmp_path)
    for split, (x, y) in (("train", train), ("test", test)):
      np.savez(tmp_path / f"{split}.npz", images=x[..., None], labels=y)
  else:
    data_dir = str(tmp_path)
    for split, (x, y) in (("train", train), ("test", test)):
      np.save(tmp_path / f"x_{split}.npy", x)
      np.save(tmp_path / f"y_{split}.npy", y.astype(np.int64))
  config = _config(data_dir)
  if layout == "split_npz":
    config.data.array_keys = ("images", "labels")
  assert sources.source_info(config.data).splits == NUM
  for split, (x, y) in (("train", train), ("test", test)):
    src = sources.load(config.data, split, start=2, stop=6)
    np.testing.assert_array_equal(src.images[..., 0], x[2:6])
    np.testing.assert_array_equal(src.labels, y[2:6])
    assert src.labels.dtype == np.int32


def test_per_class_subsample_shards_and_resumes_exactly(idx_dir):
  config = _config(idx_dir)
  config.data.max_train_per_class = 3
  config.data.max_eval_per_class = 1
  config.data.image_size = SIDE  # images as stored
  info = pipeline.dataset_info(config)
  assert (info.num_train, info.num_eval) == (3 * CLASSES, CLASSES)
  stored, stored_labels = _data("train")
  kept = arrays.per_class(stored_labels, 3)
  assert np.bincount(stored_labels[kept]).tolist() == [3] * CLASSES
  images, labels = _eval_images(config, "train")  # the kNN bank
  np.testing.assert_array_equal(labels, stored_labels[kept])
  np.testing.assert_allclose(images[..., 0], stored[kept] / 255.0, atol=1e-6)
  assert len(_eval_images(config, "test")[1]) == CLASSES
  # Two hosts: disjoint contiguous shards covering the subsample.
  shards = [
    sources.load(config.data, "train", start=a, stop=b)
    for a, b in (pipeline.host_range(9, i, 2) for i in range(2))
  ]
  np.testing.assert_array_equal(
    np.concatenate([s.labels for s in shards]), stored_labels[kept]
  )
  # Exact resume: batch 5 (epoch 2 of 9 examples) computed directly.
  fresh = _take(config, 6)
  resumed = _take(config, 1, start_step=5)[0]
  for key, value in resumed.items():
    np.testing.assert_array_equal(value, fresh[5][key])
  assert all(set(b["index"]) <= set(range(9)) for b in fresh)


def test_images_kind_reads_arrays(idx_dir):
  config = _config(idx_dir, kind="images")
  config.data.pad_to_size = True
  batch = _take(config, 1)[0]
  assert batch["image"].shape == (4, 8, 8, 3)
  # Every training image is one stored image, padded: its border is black.
  assert (batch["image"][:, 0] == 0).all() and (
    batch["image"][:, 1:-1, 1:-1] > 0
  ).all()


def test_bad_array_files_are_named(tmp_path):
  x, y = _data("train")
  path = str(tmp_path / "d.npz")
  np.savez(path, x_train=x, y_train=y[:-1])
  with pytest.raises(ValueError, match=r"d\.npz: 13 labels for 14 images"):
    pipeline.dataset_info(_config(path))
  np.savez(path, x_train=x / 255.0, y_train=y)
  sources.clear_cache()
  with pytest.raises(ValueError, match="dtype float64, expected uint8"):
    pipeline.dataset_info(_config(path))
  np.savez(path, x_train=x[0], y_train=y)
  sources.clear_cache()
  with pytest.raises(ValueError, match=r"shape \(6, 6\), expected"):
    pipeline.dataset_info(_config(path))
  np.savez(path, images=x, labels=y)
  sources.clear_cache()
  with pytest.raises(ValueError, match="no IDX, .npy or .npz files of any"):
    pipeline.dataset_info(_config(path))
  with pytest.raises(
    ValueError, match=r"array_keys.*no \['x_test', 'y_test'\]"
  ):
    arrays.load_split(path, "test", ("x_{split}", "y_{split}"))
  with pytest.raises(ValueError, match="config.data.data_dir=.*no such folder"):
    arrays.load_split(str(tmp_path / "missing"), "train", ("x", "y"))
  folder = tmp_path / "idx"
  folder.mkdir()
  _write_idx(folder / "train-images-idx3-ubyte", x)
  _write_idx(folder / "train-labels-idx1-ubyte", y[:5])
  with pytest.raises(ValueError, match="train-images-idx3-ubyte: 5 labels"):
    pipeline.dataset_info(_config(str(folder)))
  with pytest.raises(ValueError, match=r"no split 'test'.*t10k-images"):
    arrays.load_split(str(folder), "test", ("x_{split}", "y_{split}"))
  for error in (
    "max_train_per_class=-1",
    "array_keys=('x',)",
  ):
    key, _, value = error.partition("=")
    config = configs_lib.base_config()
    config.data[key] = eval(value)  # pylint: disable=eval-used
    with pytest.raises(ValueError, match=f"config.data.{key}"):
      configs_lib.validate(config)


# fashion_mnist ----------------------------------------------------------------


def test_fashion_mnist_reads_idx_from_data_dir(idx_dir):
  config = _config(idx_dir, name="fashion_mnist")
  assert sources.source_info(config.data).splits == NUM


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
  config = _config(str(tmp_path), name="fashion_mnist")
  with pytest.raises(FileNotFoundError) as error:
    pipeline.dataset_info(config)
  message = str(error.value)
  assert "apt-get install dataset-fashion-mnist" in message
  assert "config.data.data_dir" in message and "\n" not in message


@pytest.mark.skipif(
  not os.path.isdir(sources.FASHION_MNIST_DIR),
  reason="apt-get install dataset-fashion-mnist",
)
def test_apt_fashion_mnist_is_the_real_dataset():
  config = _config("", name="fashion_mnist")
  config.data.max_train_per_class = 1400
  config.data.max_eval_per_class = 300
  info = sources.source_info(config.data)
  assert info.num_classes == 10 and info.splits == {
    "train": 14000,
    "test": 3000,
  }
  test = sources.load(config.data, "test")
  assert test.images.shape == (3000, 28, 28, 1)
  assert np.bincount(test.labels).tolist() == [300] * 10
  # The published files: 6000 / 1000 images per class, labels of the first
  # test images 9 (ankle boot), 2, 1, 1, 6.
  full = arrays.load_split(sources.FASHION_MNIST_DIR, "test", ("x", "y"))
  assert np.bincount(full["label"]).tolist() == [1000] * 10
  assert full["label"][:5].tolist() == [9, 2, 1, 1, 6]
