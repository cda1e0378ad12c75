"""Where images come from: `config.data.name` -> labelled examples of a split.

The sources:
  - "embedded_digits": `jaxssl.data.embedded.load(split)` (no download).
  - "image_folder": `tfds.folder_dataset.ImageFolder(config.data.data_dir)`,
    a root with one folder per split and one sub-folder per class.
  - "arrays": images and labels stored as arrays in `config.data.data_dir`
    (IDX files of the MNIST family, .npz, .npy; `jaxssl.data.arrays`).
    "fashion_mnist" is the arrays source on the IDX files that `apt-get
    install dataset-fashion-mnist` puts in `FASHION_MNIST_DIR` (or those in
    `data_dir`), and TFDS `fashion_mnist` (the same data) where TFDS has
    prepared it and no IDX files are found.
  - for the image_text kind, any other name is a TFDS image-text set
    (coco_captions, ...; `jaxssl.data.image_text_tfds`).
  - any other name: a TFDS dataset (cifar10, cifar100, stl10, imagenette,
    imagenet2012, ...) already prepared in `config.data.data_dir`, with the
    features `config.data.image_key` and `config.data.label_key`. A missing
    dataset fails at once with how to download it (a `tfds.load` would retry
    the network for minutes instead).

`load(data_config, split, start=, stop=)` returns examples [start, stop) of a
split (one host's shard) as `Examples`, held in memory for random access
(decoded uint8 arrays, encoded image bytes or file paths), or as a `Stream`
when the shard's encoded images exceed `MEMORY_BUDGET_BYTES` (ImageNet).
Results are cached per process.

`config.data.max_train_per_class` / `max_eval_per_class` (0: all) keep the
first that many examples of each class of the train / eval split, in stored
order (`arrays.per_class`), for any in-memory source: sizes, host shards and
the kNN bank (the train split) all see the subset.

What belongs here: reading and describing datasets. Augmentation is in
`views`/`ops`; ordering, seeding and batching in `pipeline`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from jaxssl.data import arrays

# Keep a host's shard in memory (for O(1) exact resume) below this size;
# above it, read it as a stream.
MEMORY_BUDGET_BYTES = 4 << 30

EMBEDDED = "embedded_digits"
IMAGE_FOLDER = "image_folder"
# Images with same-name .txt captions, for the image_text kind
# (`jaxssl.data.image_text_sources`).
IMAGE_TEXT_FOLDER = "image_text_folder"
ARRAYS = "arrays"
FASHION_MNIST = "fashion_mnist"
# Where Debian's `dataset-fashion-mnist` package puts the IDX files.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def embedded_load(split: str) -> dict[str, np.ndarray]:
  """Loads the embedded dataset (a seam: tests replace it with a fake)."""
  from jaxssl.data import embedded  # pylint: disable=g-import-not-at-top

  return embedded.load(split)


@dataclasses.dataclass(frozen=True)
class SourceInfo:
  """What a source holds: class count and examples per split (all hosts)."""

  num_classes: int
  splits: dict[str, int]


@dataclasses.dataclass(frozen=True)
class Examples:
  """Examples [start, stop) of a split, in memory for random access.

  Attributes:
    images: uint8 [n, h, w, c] when `encoding` is "raw"; else an object
      array [n] of encoded image bytes ("encoded") or file paths ("path").
    labels: int32 [n].
    encoding: "raw", "encoded" or "path".
  """

  images: np.ndarray
  labels: np.ndarray
  encoding: str

  def __len__(self) -> int:
    return len(self.labels)

  def decode(self, image: tf.Tensor) -> tf.Tensor:
    """One element of `images` -> uint8 [h, w, c] (c = 3, or 1 if raw)."""
    if self.encoding == "raw":
      return image
    if self.encoding == "path":
      image = tf.io.read_file(image)
    return tf.io.decode_image(image, channels=3, expand_animations=False)


@dataclasses.dataclass(frozen=True)
class Stream:
  """A shard too large for memory, read sequentially from TFDS.

  Attributes:
    make: `make(shuffle_seed)` -> tf.data.Dataset of (encoded image bytes,
      int32 label); files are shuffled with the seed (reshuffled each
      repetition), in stored order when it is None.
    num_examples: examples in the shard.
  """

  make: Callable[[int | None], tf.data.Dataset]
  num_examples: int

  def __len__(self) -> int:
    return self.num_examples

  @staticmethod
  def decode(image: tf.Tensor) -> tf.Tensor:
    return tf.io.decode_image(image, channels=3, expand_animations=False)


_CACHE: dict[tuple, Any] = {}


def clear_cache() -> None:
  """Forgets loaded datasets (tests that swap data sources call this)."""
  _CACHE.clear()


def _read_only(value: Any) -> Any:
  """Marks the numpy arrays of a cached value read-only, in place.

  Cached examples are views of one split array shared by every pipeline,
  evaluation and baseline of the process: a write through any of them would
  silently change the data of all later users (e.g. the next run of a sweep).
  """
  if isinstance(value, np.ndarray):
    value.setflags(write=False)
  elif isinstance(value, dict):
    for v in value.values():
      _read_only(v)
  elif isinstance(value, Examples):
    _read_only(value.images)
    _read_only(value.labels)
  return value


def _cached(key: tuple, fn: Callable[[], Any]) -> Any:
  if key not in _CACHE:
    _CACHE[key] = _read_only(fn())
  return _CACHE[key]


def _check_split(name: str, split: str, splits: dict[str, int]) -> None:
  if split not in splits:
    raise ValueError(
      f"dataset {name!r} has no split {split!r}; available "
      f"splits: {sorted(splits)}"
    )


# embedded_digits --------------------------------------------------------------


def _embedded_split(split: str) -> dict[str, np.ndarray]:
  def load_split():
    if split not in ("train", "test"):
      raise ValueError(
        f"dataset {EMBEDDED!r} has no split {split!r}; "
        "available splits: ['test', 'train']"
      )
    return embedded_load(split)

  return _cached(("embedded", split), load_split)


def _embedded_info() -> SourceInfo:
  train, test = _embedded_split("train"), _embedded_split("test")
  num_classes = int(max(train["label"].max(), test["label"].max())) + 1
  return SourceInfo(
    num_classes, {"train": len(train["label"]), "test": len(test["label"])}
  )


# image_folder -----------------------------------------------------------------


def _folder_builder(data_dir: str):
  if not data_dir or not os.path.isdir(data_dir):
    raise ValueError(
      f"config.data.name={IMAGE_FOLDER!r} needs "
      f"config.data.data_dir to be a folder of split/class/"
      f"image files; got data_dir={data_dir!r}"
    )
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def build():
    return tfds.folder_dataset.ImageFolder(data_dir)

  return _cached(("folder", os.path.abspath(data_dir)), build)


def _folder_info(data_dir: str) -> SourceInfo:
  builder = _folder_builder(data_dir)
  splits = {k: v.num_examples for k, v in builder.info.splits.items()}
  return SourceInfo(builder.info.features["label"].num_classes, splits)


def _folder_examples(
  data_dir: str, split: str, start: int, stop: int
) -> Examples:
  builder = _folder_builder(data_dir)
  # ImageFolder keeps (path, label) per split in this deterministic order
  # (the order its `as_dataset` reads); paths keep random access free.
  # pylint: disable-next=protected-access
  rows = builder._split_examples[split][start:stop]
  str2int = builder.info.features["label"].str2int
  paths = np.array([r.image_path for r in rows], dtype=object)
  labels = np.array([str2int(r.label) for r in rows], np.int32)
  return Examples(paths, labels, "path")


# image_text_folder (the image_text kind's captioned folders) ------------------


def _captioned_split(data_dir: str, split: str):
  from jaxssl.data import image_text_sources  # pylint: disable=g-import-not-at-top

  return _cached(
    ("captioned", os.path.abspath(data_dir), split),
    lambda: image_text_sources.load_split(data_dir, split),
  )


def _captioned_info(data_dir: str) -> SourceInfo:
  from jaxssl.data import image_text_sources  # pylint: disable=g-import-not-at-top

  names = image_text_sources.splits(data_dir)
  classes = image_text_sources.class_names(data_dir)
  sizes = {k: len(_captioned_split(data_dir, k).paths) for k in names}
  return SourceInfo(max(len(classes), 1), sizes)


# arrays (and fashion_mnist) -------------------------------------------------


def _arrays_dir(data_config) -> str | None:
  """The folder / .npz the arrays source reads; None: use TFDS instead.

  `arrays` reads `config.data.data_dir`. `fashion_mnist` reads IDX files in
  `data_dir` (default `FASHION_MNIST_DIR`), else TFDS `fashion_mnist` if it
  is prepared (in `data_dir`, or TFDS' default folder).

  Raises:
    FileNotFoundError: fashion_mnist found nowhere (one line: how to get it).
  """
  name, data_dir = data_config.name, data_config.data_dir
  if name == ARRAYS:
    if not data_dir:
      raise ValueError(
        f"config.data.name={ARRAYS!r} needs config.data.data_dir: a folder "
        "of IDX / .npy / .npz files or an .npz file"
      )
    return data_dir

  def resolve():
    folder = data_dir or FASHION_MNIST_DIR
    if arrays.splits(folder, tuple(data_config.array_keys)):
      return folder
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    if tfds.builder(FASHION_MNIST, data_dir=data_dir or None).is_prepared():
      return None
    raise FileNotFoundError(
      f"config.data.name={FASHION_MNIST!r}: no Fashion-MNIST IDX files in "
      f"{folder!r} and no TFDS build there: `apt-get install "
      f"dataset-fashion-mnist` (puts them in {FASHION_MNIST_DIR}), or "
      f"`tfds build {FASHION_MNIST}`, or set config.data.data_dir to a "
      "folder holding train-images-idx3-ubyte.gz and the others"
    )

  return _cached(("fashion_mnist_dir", data_dir), resolve)


def _arrays_split(data_config, split: str) -> dict[str, np.ndarray]:
  data_dir = _arrays_dir(data_config)
  keys = tuple(data_config.array_keys)
  return _cached(
    ("arrays", os.path.abspath(data_dir), keys, split),
    lambda: arrays.load_split(data_dir, split, keys),
  )


def _arrays_info(data_config) -> SourceInfo:
  data_dir = _arrays_dir(data_config)
  names = arrays.splits(data_dir, tuple(data_config.array_keys))
  if not names:
    raise ValueError(
      f"config.data.data_dir={data_dir!r}: no IDX, .npy or .npz files of "
      f"any split (config.data.array_keys={tuple(data_config.array_keys)!r})"
    )
  labels = {k: _arrays_split(data_config, k)["label"] for k in names}
  num_classes = max(int(v.max()) + 1 for v in labels.values() if len(v))
  return SourceInfo(num_classes, {k: len(v) for k, v in labels.items()})


# TFDS -------------------------------------------------------------------------


def _tfds_builder(data_config):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  name, data_dir = data_config.name, data_config.data_dir or None

  def build():
    try:
      builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
      raise ValueError(
        f"config.data.name={name!r} is not {EMBEDDED!r}, {IMAGE_FOLDER!r} "
        "or a TFDS dataset name (see tfds.list_builders())"
      ) from None
    if not builder.is_prepared():
      root = data_dir or os.path.dirname(os.path.dirname(builder.data_dir))
      raise FileNotFoundError(
        f"TFDS dataset {name!r} is not prepared in data_dir={root!r} "
        f"(looked for {builder.data_dir}); download it with `tfds build "
        f"{name} --data_dir {root}` or `tfds.builder({name!r}, "
        f"data_dir={root!r}).download_and_prepare()`, or set "
        "config.data.data_dir"
      )
    features = builder.info.features
    for key in ("image_key", "label_key"):
      if data_config[key] not in features:
        raise ValueError(
          f"config.data.{key}={data_config[key]!r} is not a "
          f"feature of {name!r}: {sorted(features.keys())}"
        )
    return builder

  return _cached(("tfds", name, data_dir), build)


def _tfds_info(data_config) -> SourceInfo:
  builder = _tfds_builder(data_config)
  label = builder.info.features[data_config.label_key]
  num_classes = getattr(label, "num_classes", None)
  if not num_classes:
    raise ValueError(
      f"config.data.label_key={data_config.label_key!r} of "
      f"{data_config.name!r} is not a ClassLabel feature"
    )
  splits = {k: v.num_examples for k, v in builder.info.splits.items()}
  return SourceInfo(int(num_classes), splits)


def _tfds_examples(
  data_config, split: str, start: int, stop: int
) -> Examples | Stream:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  builder = _tfds_builder(data_config)
  image_key, label_key = data_config.image_key, data_config.label_key
  n = stop - start
  sub_split = f"{split}[{start}:{stop}]"
  shape = builder.info.features[image_key].shape
  split_info = builder.info.splits[split]
  encoded_bytes = (
    int(split_info.num_bytes) * n / max(split_info.num_examples, 1)
  )
  raw = None not in shape and n * math.prod(shape) <= MEMORY_BUDGET_BYTES
  skip = {image_key: tfds.decode.SkipDecoding()}

  def select(ex):
    return ex[image_key], tf.cast(ex[label_key], tf.int32)

  if not raw and encoded_bytes > MEMORY_BUDGET_BYTES:

    def make(shuffle_seed: int | None) -> tf.data.Dataset:
      read_config = tfds.ReadConfig(
        shuffle_seed=shuffle_seed,
        shuffle_reshuffle_each_iteration=True,
        try_autocache=False,
      )
      ds = builder.as_dataset(
        split=sub_split,
        decoders=skip,
        shuffle_files=shuffle_seed is not None,
        read_config=read_config,
      )
      return ds.take(n).map(select, num_parallel_calls=tf.data.AUTOTUNE)

    return Stream(make, n)

  ds = builder.as_dataset(
    split=sub_split,
    decoders=None if raw else skip,
    read_config=tfds.ReadConfig(try_autocache=False),
  )
  ds = ds.take(n).map(select, num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.batch(1024)
  images, labels = [], []
  for image, label in ds.as_numpy_iterator():
    images.append(image if raw else image.astype(object))
    labels.append(label)
  if not labels:
    raise ValueError(
      f"dataset {data_config.name!r} split {sub_split!r} is empty"
    )
  return Examples(
    np.concatenate(images), np.concatenate(labels), "raw" if raw else "encoded"
  )


# Public -----------------------------------------------------------------------


def _is_arrays(data_config) -> bool:
  if data_config.name == ARRAYS:
    return True
  return data_config.name == FASHION_MNIST and bool(_arrays_dir(data_config))


def _is_image_text_tfds(data_config) -> bool:
  """A TFDS set read by the image_text kind (`image_text_tfds`)."""
  return data_config.kind == "image_text" and data_config.name not in (
    EMBEDDED,
    IMAGE_TEXT_FOLDER,
  )


def _source_info(data_config) -> SourceInfo:
  if _is_image_text_tfds(data_config):
    from jaxssl.data import image_text_tfds  # pylint: disable=g-import-not-at-top

    return image_text_tfds.source_info(data_config)
  if data_config.name == EMBEDDED:
    return _embedded_info()
  if data_config.name == IMAGE_FOLDER:
    return _folder_info(data_config.data_dir)
  if data_config.name == IMAGE_TEXT_FOLDER:
    return _captioned_info(data_config.data_dir)
  if _is_arrays(data_config):
    return _arrays_info(data_config)
  return _tfds_info(data_config)


def _load(data_config, split: str, start: int, stop: int) -> Examples | Stream:
  """Examples [start, stop) of the whole (not subsampled) split."""
  if _is_image_text_tfds(data_config):
    from jaxssl.data import image_text_tfds  # pylint: disable=g-import-not-at-top

    return image_text_tfds.examples(data_config, split, start, stop)
  if data_config.name == EMBEDDED:
    arrays_ = _embedded_split(split)
    return _cached(
      ("embedded", split, start, stop),
      lambda: Examples(
        np.asarray(arrays_["image"][start:stop], np.uint8),
        np.asarray(arrays_["label"][start:stop], np.int32),
        "raw",
      ),
    )
  if data_config.name == IMAGE_FOLDER:
    return _cached(
      ("folder", os.path.abspath(data_config.data_dir), split, start, stop),
      lambda: _folder_examples(data_config.data_dir, split, start, stop),
    )
  if data_config.name == IMAGE_TEXT_FOLDER:
    rows = _captioned_split(data_config.data_dir, split)
    return Examples(
      np.array(rows.paths[start:stop], dtype=object),
      rows.labels[start:stop],
      "path",
    )
  if _is_arrays(data_config):
    split_arrays = _arrays_split(data_config, split)
    return Examples(
      split_arrays["image"][start:stop],
      split_arrays["label"][start:stop],
      "raw",
    )
  key = (
    "tfds",
    data_config.name,
    data_config.data_dir,
    data_config.image_key,
    data_config.label_key,
    split,
    start,
    stop,
  )
  return _cached(key, lambda: _tfds_examples(data_config, split, start, stop))


def _cap(data_config, split: str) -> tuple[str, int]:
  """(config key, examples kept per class) of `split`; 0 keeps all."""
  if split == data_config.train_split and data_config.max_train_per_class:
    return "max_train_per_class", data_config.max_train_per_class
  if split == data_config.eval_split and data_config.max_eval_per_class:
    return "max_eval_per_class", data_config.max_eval_per_class
  return "", 0


def _kept(data_config, split: str, size: int) -> np.ndarray | None:
  """Indices of the per-class subsample of `split`; None: keep all."""
  key, cap = _cap(data_config, split)
  if not cap:
    return None

  def kept():
    full = _load(data_config, split, 0, size)
    if not isinstance(full, Examples):
      raise ValueError(
        f"config.data.{key}={cap}: split {split!r} of {data_config.name!r} "
        "is too large for memory (streamed); subsample it beforehand"
      )
    return arrays.per_class(full.labels, cap)

  ident = (
    data_config.name,
    data_config.data_dir,
    tuple(data_config.array_keys),
    data_config.label_key,
  )
  return _cached(("kept", *ident, split, cap), kept)


def source_info(data_config) -> SourceInfo:
  """Class count and split sizes of `config.data` (reads no images).

  Split sizes count the per-class subsample where `max_*_per_class` is set
  (which reads that split).

  Raises:
    ValueError: unknown dataset name or feature keys, bad array files.
    FileNotFoundError: a TFDS dataset that is not prepared on disk.
  """
  info = _source_info(data_config)
  sizes = dict(info.splits)
  for split, size in info.splits.items():
    kept = _kept(data_config, split, size)
    if kept is not None:
      sizes[split] = len(kept)
  return SourceInfo(info.num_classes, sizes)


def load(
  data_config, split: str, *, start: int = 0, stop: int | None = None
) -> Examples | Stream:
  """Examples [start, stop) of `split` of `config.data` (cached).

  Args:
    data_config: `config.data`.
    split: a split name of the dataset ("train", "test", ...).
    start, stop: the range to read; stop None means the end of the split
      (of its per-class subsample, if `max_*_per_class` is set).

  Returns:
    `Examples` (random access, in memory) or `Stream` (sequential).

  Raises:
    ValueError: unknown split (naming the available ones) or bad range.
  """
  info = source_info(data_config)
  _check_split(data_config.name, split, info.splits)
  size = info.splits[split]
  stop = size if stop is None else stop
  if not 0 <= start <= stop <= size:
    raise ValueError(
      f"range [{start}, {stop}) is outside split {split!r} of "
      f"{data_config.name!r} ({size} examples)"
    )
  full_size = _source_info(data_config).splits[split]
  kept = _kept(data_config, split, full_size)
  if kept is None:
    return _load(data_config, split, start, stop)
  full = _load(data_config, split, 0, full_size)
  rows = kept[start:stop]
  return Examples(full.images[rows], full.labels[rows], full.encoding)
