"""Tests for jaxssl.data.pipeline: shapes, exact resume, sharding, eval pad.

The embedded source is replaced by a tiny in-memory fake whose labels are
unique example ids, so tests can see exactly which examples a batch holds.
"""

import itertools
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from jaxssl import configs_lib
from jaxssl.data import pipeline, sources

NUM_TRAIN, NUM_TEST = 40, 10


@pytest.fixture(name="config")
def _config(monkeypatch):
  rng = np.random.default_rng(0)
  fake = {
    split: {
      "image": rng.integers(0, 256, (n, 32, 32, 3), np.uint8),
      "label": np.arange(n, dtype=np.int32),
    }
    for split, n in (("train", NUM_TRAIN), ("test", NUM_TEST))
  }
  sources.clear_cache()
  monkeypatch.setattr(sources, "embedded_load", lambda split: fake[split])
  config = configs_lib.base_config()
  config.train.batch_size = 8
  config.data.views = configs_lib.ConfigDict(
    {
      "global_views": configs_lib.view_group(
        num_views=2, size=24, blur_prob=(1.0, 0.1)
      ),
      "local_views": configs_lib.view_group(num_views=3, size=12),
    }
  )
  yield config
  sources.clear_cache()


def _take(config, n, **kwargs):
  return list(itertools.islice(pipeline.train_batches(config, **kwargs), n))


def test_train_batch_shapes(config):
  batch = _take(config, 1, process_index=0, process_count=2)[0]
  assert set(batch) == {"global_views", "local_views", "label", "index"}
  assert batch["global_views"].shape == (4, 2, 24, 24, 3)
  assert batch["local_views"].shape == (4, 3, 12, 12, 3)
  assert batch["global_views"].dtype == np.float32
  assert batch["label"].dtype == np.int32 and batch["label"].shape == (4,)
  assert np.isfinite(batch["local_views"]).all()
  assert tf.config.get_visible_devices("GPU") == []


def test_index_is_the_position_in_the_split(config):
  # Host 1 of 2 holds examples [20, 40): one epoch (5 batches of 4) visits
  # each exactly once, and the label is that example's label.
  batches = _take(config, 5, process_index=1, process_count=2)
  index = np.concatenate([b["index"] for b in batches])
  assert index.dtype == np.int32
  assert sorted(index) == list(range(20, 40))
  labels = np.concatenate([b["label"] for b in batches])
  src = sources.load(config.data, config.data.train_split, start=0, stop=40)
  np.testing.assert_array_equal(labels, src.labels[index])


def test_exact_resume_across_epochs(config):
  # Host shard: 20 examples, 4 per batch -> batch 5 opens the second epoch.
  kw = dict(process_index=1, process_count=2)
  fresh = _take(config, 7, **kw)
  for step in (2, 6):
    resumed = _take(config, 1, start_step=step, **kw)[0]
    for key, value in resumed.items():
      np.testing.assert_array_equal(value, fresh[step][key])
  config.seed = 1
  other = _take(config, 1, **kw)[0]
  assert not np.array_equal(other["label"], fresh[0]["label"])


def test_epochs_are_permutations_of_disjoint_covering_shards(config):
  seen = []
  for host in range(2):
    labels = np.concatenate(
      [
        b["label"]
        for b in _take(config, 10, process_index=host, process_count=2)
      ]
    )
    epoch1, epoch2 = labels[:20], labels[20:]
    assert sorted(epoch1) == sorted(epoch2) and len(set(epoch1)) == 20
    assert not np.array_equal(epoch1, epoch2)  # reshuffled per epoch
    seen.append(set(epoch1))
  assert not seen[0] & seen[1]
  assert seen[0] | seen[1] == set(range(NUM_TRAIN))


def test_same_example_gets_new_views_each_epoch(config):
  batches = _take(config, 10, process_index=0, process_count=1)
  views = np.concatenate([b["global_views"] for b in batches])
  labels = np.concatenate([b["label"] for b in batches])
  first, second = np.flatnonzero(labels == 0)
  assert not np.allclose(views[first], views[second])


def test_batch_size_must_divide_over_processes(config):
  config.train.batch_size = 9
  with pytest.raises(ValueError, match="config.train.batch_size=9"):
    pipeline.train_batches(config, process_index=0, process_count=2)


def test_unknown_split_names_available_ones(config):
  config.data.train_split = "validation"
  with pytest.raises(ValueError, match=r"'validation'.*\['test', 'train'\]"):
    pipeline.train_batches(config, process_index=0, process_count=1)


def test_eval_padding_and_valid_mask(config):
  hosts = [
    list(
      pipeline.eval_batches(
        config, "test", batch_size=4, process_index=i, process_count=2
      )
    )
    for i in range(2)
  ]
  assert [len(h) for h in hosts] == [2, 2]  # 5 examples per host, b = 4
  labels = []
  for batches in hosts:
    for b in batches:
      assert b["image"].shape == (4, 32, 32, 3)
      assert b["label"].dtype == np.int32 and b["valid"].dtype == bool
      labels.extend(b["label"][b["valid"]])
      assert (b["image"][~b["valid"]] == 0).all()
    assert sum(b["valid"].sum() for b in batches) == 5
  assert sorted(labels) == list(range(NUM_TEST))
  # max_examples caps the split over all hosts; hosts stay in step.
  capped = [
    list(
      pipeline.eval_batches(
        config,
        "test",
        batch_size=4,
        process_index=i,
        process_count=2,
        max_examples=7,
      )
    )
    for i in range(2)
  ]
  assert [len(h) for h in capped] == [1, 1]
  assert [int(h[0]["valid"].sum()) for h in capped] == [3, 4]


def test_eval_images_are_normalised_pixels(config):
  config.data.mean, config.data.std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
  batch = next(
    pipeline.eval_batches(
      config, "train", batch_size=2, process_index=0, process_count=1
    )
  )
  raw = sources.embedded_load("train")["image"][:2] / 255.0
  np.testing.assert_allclose(batch["image"], (raw - 0.5) / 0.25, atol=1e-5)
  config.data.image_size = 20
  small = next(
    pipeline.eval_batches(
      config, "train", batch_size=2, process_index=0, process_count=1
    )
  )
  assert small["image"].shape == (2, 20, 20, 3)


def test_eval_crop_fraction_crops_the_centre_of_the_resized_image(config):
  config.data.image_size, config.data.eval_crop_fraction = 16, 0.5
  batch = next(
    pipeline.eval_batches(
      config, "train", batch_size=2, process_index=0, process_count=1
    )
  )
  # 32 px images resized to 16 / 0.5 = 32 (unchanged): the middle 16 x 16.
  raw = sources.embedded_load("train")["image"][:2, 8:24, 8:24] / 255.0
  np.testing.assert_allclose(batch["image"], (raw - 0.5) / 0.25, atol=1e-5)
  config.data.eval_crop_fraction = 0.0
  with pytest.raises(ValueError, match="data.eval_crop_fraction=0.0"):
    configs_lib.validate(config)


def test_imagenet_recipes_evaluate_on_the_224_crop_of_256():
  config = configs_lib.load("simclr_imagenet")
  assert config.data.image_size == 224
  assert round(224 / config.data.eval_crop_fraction) == 256


def test_dataset_info(config):
  info = pipeline.dataset_info(config)
  assert info == pipeline.DatasetInfo(
    num_classes=NUM_TRAIN,
    num_train=NUM_TRAIN,
    num_eval=NUM_TEST,
    image_shape=(32, 32, 3),
  )


def test_host_range_is_disjoint_and_covering():
  for total, count in ((10, 3), (7, 8), (1000, 7)):
    ranges = [pipeline.host_range(total, i, count) for i in range(count)]
    assert ranges[0][0] == 0 and ranges[-1][1] == total
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_importing_jaxssl_data_does_not_import_tensorflow():
  code = (
    "import sys, jaxssl.data, jaxssl.data.embedded, jaxssl.data.arrays; "
    "assert 'tensorflow' not in sys.modules"
  )
  subprocess.run([sys.executable, "-c", code], check=True)


def test_plot_views(config, tmp_path):
  from jaxssl.data import figures  # pylint: disable=g-import-not-at-top

  batch = _take(config, 1, process_index=0, process_count=1)[0]
  path = tmp_path / "views.png"
  fig = figures.plot_views(batch, config, n=3, path=str(path))
  assert len(fig.axes) == 3 * (2 + 3) and path.stat().st_size > 0
