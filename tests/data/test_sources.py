"""Tests for jaxssl.data.sources: TFDS (mocked), image folders, errors.

TFDS is exercised through `tfds.testing.mock_data` with metadata written to
a temporary data_dir (MockPolicy.USE_FILES), so split names and sizes are
real. No test may reach the network: conftest sets TFDS_DISABLE_GCS and the
`no_network` fixture makes Python sockets fail.
"""

import itertools
import os
import socket
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from jaxssl import configs_lib
from jaxssl.data import pipeline, sources

NUM_TRAIN, NUM_TEST = 12, 5


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
  def refuse(*args, **kwargs):
    raise OSError(f"test tried to reach the network: {args}")

  monkeypatch.setattr(socket.socket, "connect", refuse)
  monkeypatch.setattr(socket, "create_connection", refuse)
  assert os.environ.get("TFDS_DISABLE_GCS") == "1"
  sources.clear_cache()
  yield
  sources.clear_cache()


@pytest.fixture(scope="module", name="tfds_dir")
def _tfds_dir(tmp_path_factory):
  """A data_dir holding cifar10 metadata only (12 train, 5 test)."""
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  builder = tfds.builder("cifar10", data_dir=data_dir)
  builder.info.set_splits(
    tfds.core.SplitDict(
      [
        tfds.core.SplitInfo(
          name="train", shard_lengths=[NUM_TRAIN], num_bytes=NUM_TRAIN * 2000
        ),
        tfds.core.SplitInfo(
          name="test", shard_lengths=[NUM_TEST], num_bytes=NUM_TEST * 2000
        ),
      ]
    )
  )
  os.makedirs(builder.data_dir, exist_ok=True)
  builder.info.write_to_directory(builder.data_dir)
  return data_dir


def _config(name, data_dir):
  config = configs_lib.base_config()
  config.data.name = name
  config.data.data_dir = data_dir
  config.train.batch_size = 4
  config.data.views.views = configs_lib.view_group(num_views=2, size=16)
  return config


def _mock(tfds_dir):
  return tfds.testing.mock_data(
    num_examples=NUM_TRAIN,
    data_dir=tfds_dir,
    policy=tfds.testing.MockPolicy.USE_FILES,
  )


def _take(config, n, **kwargs):
  it = pipeline.train_batches(
    config, process_index=0, process_count=1, **kwargs
  )
  return list(itertools.islice(it, n))


def test_tfds_dataset_in_memory(tfds_dir):
  config = _config("cifar10", tfds_dir)
  with _mock(tfds_dir):
    info = pipeline.dataset_info(config)
    assert (info.num_classes, info.num_train, info.num_eval) == (
      10,
      NUM_TRAIN,
      NUM_TEST,
    )
    src = sources.load(config.data, "train")
    assert src.encoding == "raw" and src.images.shape == (NUM_TRAIN, 32, 32, 3)
    batch = _take(config, 1)[0]
  assert batch["views"].shape == (4, 2, 16, 16, 3)
  assert batch["label"].dtype == np.int32
  assert ((batch["label"] >= 0) & (batch["label"] < 10)).all()


@pytest.mark.parametrize("budget,kind", [(30_000, "encoded"), (0, "stream")])
def test_tfds_large_datasets_encoded_or_streamed(
  tfds_dir, monkeypatch, budget, kind
):
  # Raw train images take 12 * 3072 bytes; the metadata says 2000 encoded
  # bytes per image: a 30 kB budget keeps PNG bytes, 0 forces a stream.
  monkeypatch.setattr(sources, "MEMORY_BUDGET_BYTES", budget)
  config = _config("cifar10", tfds_dir)
  config.data.shuffle_buffer = 8  # streams fill it before the first batch
  with _mock(tfds_dir):
    src = sources.load(config.data, "train")
    assert isinstance(
      src, sources.Stream if kind == "stream" else sources.Examples
    )
    fresh = _take(config, 4)
    resumed = _take(config, 1, start_step=3)[0]  # batch 3 opens epoch 2
    evals = list(
      pipeline.eval_batches(
        config, "test", batch_size=4, process_index=0, process_count=1
      )
    )
  for key, value in resumed.items():
    np.testing.assert_array_equal(value, fresh[3][key])
  assert fresh[0]["views"].shape == (4, 2, 16, 16, 3)
  assert [int(b["valid"].sum()) for b in evals] == [4, 1]


def test_tfds_unknown_split_and_feature(tfds_dir):
  config = _config("cifar10", tfds_dir)
  with _mock(tfds_dir):
    with pytest.raises(ValueError, match=r"'validation'.*\['test', 'train'\]"):
      pipeline.eval_batches(
        config, "validation", batch_size=4, process_index=0, process_count=1
      )
    config.data.image_key = "img"
    sources.clear_cache()
    with pytest.raises(ValueError, match="config.data.image_key='img'"):
      pipeline.dataset_info(config)


def test_missing_tfds_dataset_fails_fast_and_says_how_to_download(tmp_path):
  config = _config("cifar10", str(tmp_path))
  start = time.monotonic()
  with pytest.raises(FileNotFoundError) as error:
    pipeline.train_batches(config, process_index=0, process_count=1)
  assert time.monotonic() - start < 10
  message = str(error.value)
  assert "'cifar10'" in message and str(tmp_path) in message
  assert "tfds build cifar10 --data_dir" in message
  assert "\n" not in message
  config.data.name = "no_such_dataset"
  with pytest.raises(ValueError, match="'no_such_dataset' is not"):
    pipeline.dataset_info(config)


def _write_png(path, shape, value):
  data = tf.io.encode_png(tf.constant(np.full(shape, value, np.uint8)))
  tf.io.write_file(str(path), data)


@pytest.fixture(name="folder")
def _folder(tmp_path):
  """train: 3 cats, 2 dogs (one grayscale); test: 1 of each; mixed sizes."""
  for split, counts in (
    ("train", {"cat": 3, "dog": 2}),
    ("test", {"cat": 1, "dog": 1}),
  ):
    for label, (cls, count) in enumerate(sorted(counts.items())):
      os.makedirs(tmp_path / split / cls)
      for i in range(count):
        shape = (40, 30, 1) if (cls, i) == ("dog", 1) else (24 + i, 36, 3)
        _write_png(tmp_path / split / cls / f"{i}.png", shape, 50 + 100 * label)
  return str(tmp_path)


def test_image_folder(folder):
  config = _config("image_folder", folder)
  config.data.mean, config.data.std = (0, 0, 0), (1, 1, 1)
  info = pipeline.dataset_info(config)
  assert (info.num_classes, info.num_train, info.num_eval) == (2, 5, 2)
  batch = _take(config, 1)[0]
  assert batch["views"].shape == (4, 2, 16, 16, 3)
  evals = list(
    pipeline.eval_batches(
      config, "train", batch_size=4, process_index=0, process_count=1
    )
  )
  images = np.concatenate([b["image"] for b in evals])[:5]
  labels = np.concatenate([b["label"] for b in evals])[:5]
  assert images.shape == (5, 32, 32, 3) and sorted(labels) == [0, 0, 0, 1, 1]
  # Each image is flat at its class's grey level: labels match folders.
  np.testing.assert_allclose(
    images.mean(axis=(1, 2, 3)), (50 + 100 * labels) / 255, atol=1e-5
  )


def test_image_folder_needs_a_folder(tmp_path):
  config = _config("image_folder", str(tmp_path / "missing"))
  with pytest.raises(ValueError, match="config.data.data_dir"):
    pipeline.dataset_info(config)
