"""The data-kind interface, and the image keys the image kinds share."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import ml_collections

ConfigDict = ml_collections.ConfigDict
Batch = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """Sizes of the configured dataset.

  Attributes:
    num_classes: label classes.
    num_train: examples in `config.data.train_split` (all hosts).
    num_eval: examples in `config.data.eval_split` (all hosts).
    image_shape: (s, s, 3), the shape of evaluation images, with
      s = `config.data.image_size` (image kinds; None for others).
  """

  num_classes: int
  num_train: int
  num_eval: int
  image_shape: tuple[int, int, int] | None = None


@dataclasses.dataclass(frozen=True)
class DataKind:
  """One kind of data, as the loop, the protocols and the benchmark see it.

  Attributes:
    name: registry name (`config.data.kind`).
    config: `() -> ConfigDict`, this kind's keys of `config.data` with
      their defaults (beside the shared `kind`, `name`, `data_dir`,
      `train_split`, `eval_split`, `shuffle_buffer`).
    validate: `(config) -> None`, checks this kind's keys; raises a
      ValueError naming the first bad key.
    info: `(config) -> DatasetInfo`.
    train_batches: `(config, *, start_step=0, process_index=None,
      process_count=None) -> iterator` of host-local training batches (NumPy
      dicts); batch k depends only on (config, process, k), so
      `start_step=k` resumes exactly.
    eval_batches: `(config, split, *, batch_size, process_index=None,
      process_count=None, max_examples=0) -> iterator`, one padded pass
      over `split` without augmentation; every batch has a bool "valid".
    batch_spec: `(config) -> {key: jax.ShapeDtypeStruct}`, the global
      training batch (what `Method.init` is built from).
    eval_spec: `(config, batch_size) -> {key: jax.ShapeDtypeStruct}`, an
      evaluation batch of `batch_size`.
    size_hint: `(config) -> str`, the config keys that size a batch (for
      the out-of-memory message).
    smoke: `(config, image_size) -> None`, shrinks this kind's keys in
      place for a seconds-long run (`image_size` may be None).
  """

  name: str
  config: Callable[[], ConfigDict]
  validate: Callable[[ConfigDict], None]
  info: Callable[[ConfigDict], DatasetInfo]
  train_batches: Callable[..., Iterator[Batch]]
  eval_batches: Callable[..., Iterator[Batch]]
  batch_spec: Callable[[ConfigDict], dict[str, Any]]
  eval_spec: Callable[[ConfigDict, int], dict[str, Any]]
  size_hint: Callable[[ConfigDict], str]
  smoke: Callable[[ConfigDict, int | None], None]


def image_keys() -> dict[str, Any]:
  """`config.data` keys of every image kind, with defaults."""
  return dict(
    image_key="image",
    label_key="label",
    image_size=32,  # evaluation images are resized to this side
    # Evaluation: resize the shorter side to image_size / this, then
    # centre-crop image_size (timm's crop_pct; 0.875 = ImageNet's 256 -> 224).
    eval_crop_fraction=1.0,
    mean=(0.5, 0.5, 0.5),  # per-channel normalisation after [0, 1]
    std=(0.25, 0.25, 0.25),
    # Pad images smaller than image_size with black, centred, to
    # image_size before any crop or resize (Fashion-MNIST 28 -> 32).
    pad_to_size=False,
    # Per-class subsample: the first N examples of each class of the
    # train / eval split, in stored order (0: all); in-memory sources.
    max_train_per_class=0,
    max_eval_per_class=0,
    # The "arrays" source: (images, labels) keys in an .npz, or .npy file
    # stems; "{split}" becomes the split's name (jaxssl.data.arrays).
    array_keys=("x_{split}", "y_{split}"),
  )


def fail(key: str, value: Any, why: str) -> None:
  raise ValueError(f"config.{key}={value!r}: {why}")


def validate_image_keys(config: ConfigDict) -> None:
  """Checks the shared image keys of `config.data`."""
  d = config.data
  if d.image_size < 1:
    fail("data.image_size", d.image_size, "must be >= 1")
  if not 0 < d.eval_crop_fraction <= 1:
    fail("data.eval_crop_fraction", d.eval_crop_fraction, "must be in (0, 1]")
  if len(d.mean) != 3 or len(d.std) != 3:
    fail("data.mean/std", (d.mean, d.std), "need 3 values (RGB)")
  if any(s <= 0 for s in d.std):
    fail("data.std", d.std, "must be > 0")
  for key in ("max_train_per_class", "max_eval_per_class"):
    if d[key] < 0:
      fail(f"data.{key}", d[key], "must be >= 0 (0 keeps every example)")
  if (
    d.train_split == d.eval_split
    and d.max_train_per_class != d.max_eval_per_class
  ):
    fail(
      "data.max_eval_per_class",
      d.max_eval_per_class,
      f"differs from data.max_train_per_class={d.max_train_per_class} "
      f"while train_split and eval_split are both {d.train_split!r}",
    )
  keys = tuple(d.array_keys)
  if len(keys) != 2 or not all(isinstance(k, str) and k for k in keys):
    fail("data.array_keys", keys, "needs two names: (images, labels)")
  if keys[0] == keys[1]:
    fail("data.array_keys", keys, "images and labels need different names")


def image_eval_batches(config, split, **kwargs):
  """`pipeline.eval_batches`: {"image", "label", "valid"} batches."""
  from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

  return pipeline.eval_batches(config, split, **kwargs)


def image_info(config) -> DatasetInfo:
  from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

  return pipeline.dataset_info(config)


def image_eval_spec(config, batch_size: int) -> dict[str, Any]:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  s = config.data.image_size
  return {
    "image": jax.ShapeDtypeStruct((batch_size, s, s, 3), jnp.float32),
    "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32),
    "valid": jax.ShapeDtypeStruct((batch_size,), jnp.bool_),
  }


def labels_spec(batch_size: int) -> dict[str, Any]:
  """The "label" and "index" entries every image training batch has."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  return {
    "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32),
    "index": jax.ShapeDtypeStruct((batch_size,), jnp.int32),
  }
