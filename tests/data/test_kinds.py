"""Data kinds: registry, keys, the `images` kind's batches, specs."""

import dataclasses
import itertools

import numpy as np
import pytest

from jaxssl import configs_lib, methods
from jaxssl.data import kinds, sources

NUM_TRAIN, NUM_TEST = 40, 10


@pytest.fixture(autouse=True)
def _image_method(monkeypatch):
  """A method that reads the `images` kind (the keys of simclr's)."""
  monkeypatch.setitem(
    methods.METHODS,
    "on_images",
    dataclasses.replace(
      methods.METHODS["simclr"], name="on_images", data_kinds=("images",)
    ),
  )


@pytest.fixture(name="fake_data")
def _fake_data(monkeypatch):
  rng = np.random.default_rng(0)
  fake = {
    split: {
      "image": rng.integers(0, 256, (n, 32, 32, 3), np.uint8),
      "label": np.arange(n, dtype=np.int32) % 4,
    }
    for split, n in (("train", NUM_TRAIN), ("test", NUM_TEST))
  }
  sources.clear_cache()
  monkeypatch.setattr(sources, "embedded_load", lambda split: fake[split])
  yield fake
  sources.clear_cache()


def _images_config(**data):
  config = configs_lib.base_config("on_images")
  assert config.data.kind == "images"  # the method's default kind
  config.train.batch_size = 8
  for key, value in data.items():
    config.data[key] = value
  return configs_lib.validate(config)


def _take(kind, config, n, **kwargs):
  return list(itertools.islice(kind.train_batches(config, **kwargs), n))


def test_unknown_kind_names_the_key():
  config = configs_lib.base_config()
  config.data.kind = "audio"
  with pytest.raises(ValueError, match="config.data.kind='audio'"):
    configs_lib.validate(config)


def test_each_kind_owns_its_keys():
  views = configs_lib.base_config("simclr", data_kind="views").data
  assert "views" in views and "crop_scale" not in views
  with pytest.raises(ValueError, match="method 'simclr' reads"):
    configs_lib.base_config("simclr", data_kind="images")
  config = _images_config()
  assert "views" not in config.data
  assert tuple(config.data.crop_scale) == (1.0, 1.0)
  # A views key on the images kind is unknown there, naming the kind.
  config.data.unlock()
  config.data.views = configs_lib.ConfigDict()
  with pytest.raises(ValueError, match="'data.views' with data kind 'images'"):
    configs_lib.validate(config)


@pytest.mark.parametrize(
  "key, value",
  [("crop_scale", (0.0, 1.0)), ("flip_prob", 1.5), ("image_size", 0)],
)
def test_images_kind_checks_its_keys(key, value):
  config = _images_config()
  config.data[key] = value
  with pytest.raises(ValueError, match=f"config.data.{key}="):
    configs_lib.validate(config)


def test_images_batches_are_the_images(fake_data):
  kind = kinds.get("images")
  config = _images_config()
  batch = _take(kind, config, 1, process_index=0, process_count=1)[0]
  spec = kind.batch_spec(config)
  assert set(batch) == set(spec) == {"image", "label", "index"}
  for key, s in spec.items():
    assert batch[key].shape == s.shape and batch[key].dtype == s.dtype, key
  # No augmentation by default: each image is the normalised original.
  raw = fake_data["train"]["image"][batch["index"]] / 255.0
  want = (raw - np.array(config.data.mean)) / np.array(config.data.std)
  np.testing.assert_allclose(batch["image"], want, atol=1e-5)
  np.testing.assert_array_equal(
    batch["label"], fake_data["train"]["label"][batch["index"]]
  )


def test_images_batches_resume_exactly_and_flip(fake_data):
  kind = kinds.get("images")
  config = _images_config(flip_prob=1.0)
  fresh = _take(kind, config, 4, process_index=0, process_count=1)
  resumed = _take(
    kind, config, 1, start_step=3, process_index=0, process_count=1
  )[0]
  for key in fresh[3]:
    np.testing.assert_array_equal(fresh[3][key], resumed[key])
  raw = fake_data["train"]["image"][fresh[0]["index"]] / 255.0
  want = (raw[:, :, ::-1] - np.array(config.data.mean)) / np.array(
    config.data.std
  )
  np.testing.assert_allclose(fresh[0]["image"], want, atol=1e-5)


def test_images_kind_shrinks_for_smoke():
  config = _images_config(image_size=224)
  configs_lib.make_smoke(config, image_size=64)
  assert config.data.image_size == 64


def test_size_hints_name_the_keys():
  views = configs_lib.base_config()
  assert "config.data.views.views.size=32 (x2)" in kinds.get("views").size_hint(
    views
  )
  assert "config.data.image_size=32" in kinds.get("images").size_hint(
    _images_config()
  )
