"""Host-local batches for training and evaluation: the data contract.

  train_batches(config, start_step=0) -> endless augmented batches
  eval_batches(config, split, batch_size=...) -> one padded pass, no aug
  dataset_info(config) -> DatasetInfo(num_classes, num_train, ...)

Each host reads its own contiguous shard of a split ([i * N // P,
(i + 1) * N // P) for process i of P), so shards are disjoint and cover the
split. Batches are NumPy dicts; the training loop makes global `jax.Array`s
from them with `jax.make_array_from_process_local_data`.

Determinism and exact resume. A host's training stream is a sequence of
positions k = 0, 1, 2, ...: epoch k // n, slot k % n of its n examples.
The example at a position is computed, not replayed: in-memory shards
(every dataset but ImageNet-sized ones, see `sources.MEMORY_BUDGET_BYTES`)
use `tf.random.experimental.index_shuffle(slot, seed(epoch), n - 1)`, a
seeded permutation per epoch, and its augmentation seed is
`stateless_fold_in(base, k)` with `base` from (config.seed, process index).
Batch s holds positions [s * b, (s + 1) * b), so `start_step=s` starts the
range there: resuming costs nothing and gives the very same batches.
Streamed shards (too large for memory) replay a seeded file order and
shuffle buffer and skip s * b records before decoding: exact, but the skip
costs reading those records.

What belongs here: ordering, seeding, sharding and batching. Sources are in
`sources`, augmentations in `views` and `ops`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from jaxssl.data import ops, sources, views
from jaxssl.data.kinds.base import DatasetInfo

_UNTIL_THE_END = 2**62  # positions of an endless training stream


def _setup_tf() -> None:
  """Hides GPUs from TF (they belong to JAX) and quiets its logging."""
  try:
    tf.config.set_visible_devices([], "GPU")
  except RuntimeError:  # TF already initialised its devices: nothing to hide
    pass
  tf.get_logger().setLevel("ERROR")


def _process(process_index, process_count) -> tuple[int, int]:
  if process_index is None or process_count is None:
    import jax  # pylint: disable=g-import-not-at-top

    process_index = (
      jax.process_index() if process_index is None else (process_index)
    )
    process_count = (
      jax.process_count() if process_count is None else (process_count)
    )
  if not 0 <= process_index < process_count:
    raise ValueError(
      f"process_index={process_index} is not in "
      f"[0, process_count={process_count})"
    )
  return process_index, process_count


def host_range(
  total: int, process_index: int, process_count: int
) -> tuple[int, int]:
  """This host's contiguous shard [start, stop) of `total` examples."""
  return (
    total * process_index // process_count,
    total * (process_index + 1) // process_count,
  )


def _plain(fn):
  """Skips AutoGraph: our map functions have no tensor-dependent `if`s.

  AutoGraph's conversion would only slow down tracing.
  """
  return tf.autograph.experimental.do_not_convert(fn)


def _options() -> tf.data.Options:
  options = tf.data.Options()
  options.deterministic = True
  options.autotune.enabled = True
  return options


def _split_size(config, split: str) -> int:
  info = sources.source_info(config.data)
  if split not in info.splits:
    raise ValueError(
      f"config.data: dataset {config.data.name!r} has no "
      f"split {split!r}; available splits: "
      f"{sorted(info.splits)}"
    )
  if not info.splits[split]:
    where = f" in {config.data.data_dir}" if config.data.data_dir else ""
    raise ValueError(
      f"config.data: split {split!r} of dataset {config.data.name!r} is "
      f"empty{where}"
    )
  return info.splits[split]


# The first bytes of the formats tf.io.decode_image reads.
_SIGNATURES = (
  b"\xff\xd8\xff",
  b"\x89PNG",
  b"GIF8",
  b"BM",
  b"RIFF",
  b"\xff\x0a",
)


def _undecodable(config, split: str) -> str | None:
  """The first file of `split` that is not an image, for folder sources."""
  src = sources.load(config.data, split)
  if not isinstance(src, sources.Examples) or src.encoding != "path":
    return None
  for path in src.images:
    try:
      with open(path, "rb") as f:
        head = f.read(12)
    except OSError:
      return str(path)
    if not head.startswith(_SIGNATURES):
      return str(path)
  return None


def _named_errors(iterator, config, split: str):
  """Yields from `iterator`; a decode error becomes one line naming the file.

  tf.data reports an unreadable image deep in its graph, without the file;
  the split's files are then checked by their first bytes to name it.
  """
  try:
    yield from iterator
  except tf.errors.InvalidArgumentError as e:
    text = re.sub(r"\{\{.*?\}\}\s*", "", str(e.message or e)).strip()
    first = text.splitlines()[0] if text else type(e).__name__
    bad = _undecodable(config, split)
    culprit = f" {bad}" if bad else f" (split {split!r})"
    raise ValueError(
      f"config.data.data_dir={config.data.data_dir!r}: cannot decode the "
      f"image{culprit}: {first}"
    ) from None


def dataset_info(config) -> DatasetInfo:
  """Class count, split sizes and eval image shape of `config.data`."""
  _setup_tf()
  info = sources.source_info(config.data)
  size = config.data.image_size
  return DatasetInfo(
    num_classes=info.num_classes,
    num_train=_split_size(config, config.data.train_split),
    num_eval=_split_size(config, config.data.eval_split),
    image_shape=(size, size, 3),
  )


def _image_loader(config, src):
  """`stored image -> float32 [h, w, 3] in [0, 1]`: decode, RGB, pad."""
  size = config.data.image_size
  pad = bool(config.data.pad_to_size)

  def load(image):
    image = ops.to_float(src.decode(image))
    return ops.pad_to_size(image, size=size) if pad else image

  return load


def _seeds(config, process_index: int) -> tuple[tf.Tensor, tf.Tensor]:
  """(augmentation base, shuffle base), shape-[2] int64 seeds."""
  base = tf.constant([config.seed, process_index], tf.int64)
  fold = tf.random.experimental.stateless_fold_in
  return fold(base, 0), fold(base, 1)


def _train_dataset(
  config, start_step: int, process_index: int, process_count: int
) -> tf.data.Dataset:
  batch_size = config.train.batch_size
  if batch_size % process_count:
    raise ValueError(
      f"config.train.batch_size={batch_size} is not divisible "
      f"by the {process_count} processes (hosts)"
    )
  b = batch_size // process_count
  split = config.data.train_split
  start, stop = host_range(
    _split_size(config, split), process_index, process_count
  )
  if stop == start:
    raise ValueError(
      f"split {split!r} of {config.data.name!r} has no "
      f"examples for process {process_index} of "
      f"{process_count}"
    )
  src = sources.load(config.data, split, start=start, stop=stop)
  aug_base, shuffle_base = _seeds(config, process_index)
  first = start_step * b
  fold = tf.random.experimental.stateless_fold_in

  draw_views, apply_views = views.compiled(config.data)
  load_image = _image_loader(config, src)

  def draw(k, image, label, index):
    image = load_image(image)
    index = tf.cast(start + index, tf.int32)  # position in the whole split
    return draw_views(image, fold(aug_base, k)), label, index

  if isinstance(src, sources.Examples):
    images, labels = tf.constant(src.images), tf.constant(src.labels)
    n = len(src)

    def example(k):
      epoch_seed = fold(shuffle_base, k // n)
      index = tf.random.experimental.index_shuffle(k % n, epoch_seed, n - 1)
      return draw(k, tf.gather(images, index), tf.gather(labels, index), index)

    ds = tf.data.Dataset.range(first, _UNTIL_THE_END)
    ds = ds.map(_plain(example), num_parallel_calls=tf.data.AUTOTUNE)
  else:  # Stream: replay the seeded order, skip before decoding.
    seed = (config.seed * 1_000_003 + process_index) % 2**31
    ds = src.make(seed).repeat()
    ds = ds.shuffle(
      config.data.shuffle_buffer, seed=seed, reshuffle_each_iteration=True
    )
    ds = ds.skip(first).enumerate(start=first)
    # Records come in a reshuffled file order each epoch: no stable position
    # in the split, so `index` is -1 (start + index == -1 below).
    ds = ds.map(
      _plain(lambda k, ex: draw(k, *ex, -1 - start)),
      num_parallel_calls=tf.data.AUTOTUNE,
    )

  def finish(drawn, label, index):
    out = apply_views(drawn)
    out["label"] = label
    out["index"] = index
    return out

  ds = ds.batch(b, drop_remainder=True)
  ds = ds.map(_plain(finish), num_parallel_calls=tf.data.AUTOTUNE)
  return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


def train_batches(
  config,
  *,
  start_step: int = 0,
  process_index: int | None = None,
  process_count: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
  """Endless host-local training batches.

  Args:
    config: the experiment config (`data`, `train.batch_size`, `seed`).
    start_step: the first batch yielded is batch `start_step` of the
      stream (exact resume; see the module docstring).
    process_index, process_count: this host; default `jax.process_index()`
      and `jax.process_count()`.

  Returns:
    An iterator of {group: float32 [b, v, s, s, 3] (normalised), "label":
    int32 [b], "index": int32 [b]} with b = config.train.batch_size //
    process_count, one key per group of `config.data.views`; `index` is the
    example's position in the split (in-memory sources; -1 for streamed
    ones, read in a reshuffled file order). The batch at step k depends
    only on (config, process_index, process_count, k).

  Raises:
    ValueError: batch size not divisible by process_count, unknown split,
      bad view groups. FileNotFoundError: TFDS dataset not on disk.
  """
  _setup_tf()
  if start_step < 0:
    raise ValueError(f"start_step={start_step} must be >= 0")
  process_index, process_count = _process(process_index, process_count)
  ds = _train_dataset(config, start_step, process_index, process_count)
  return _named_errors(ds.as_numpy_iterator(), config, config.data.train_split)


def eval_batches(
  config,
  split: str,
  *,
  batch_size: int,
  process_index: int | None = None,
  process_count: int | None = None,
  max_examples: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
  """One pass over `split` in stored order, without augmentation.

  Images are resized (shorter side to `config.data.image_size /
  config.data.eval_crop_fraction`, e.g. 256 for ImageNet's 224 at 0.875) and
  centre-cropped to `config.data.image_size`, then normalised with
  `config.data.mean`/`std`.

  Args:
    config: the experiment config.
    split: the split to read, e.g. `config.data.eval_split`.
    batch_size: host-local batch size.
    process_index, process_count: this host; default from jax.
    max_examples: read only the first `max_examples` of the split (over all
      hosts); 0 reads all.

  Returns:
    An iterator of {"image": float32 [b, s, s, 3], "label": int32 [b],
    "valid": bool [b]}. Every host yields the same number of batches; the
    last ones are padded to b with zero images and valid=False.
  """
  _setup_tf()
  if batch_size < 1:
    raise ValueError(f"batch_size={batch_size} must be >= 1")
  process_index, process_count = _process(process_index, process_count)
  total = _split_size(config, split)
  if max_examples > 0:
    total = min(total, max_examples)
  start, stop = host_range(total, process_index, process_count)
  num_batches = math.ceil(math.ceil(total / process_count) / batch_size)
  src = sources.load(config.data, split, start=start, stop=stop)
  if isinstance(src, sources.Examples):
    ds = tf.data.Dataset.from_tensor_slices((src.images, src.labels))
  else:
    ds = src.make(None)
  size = config.data.image_size
  resize = round(size / config.data.eval_crop_fraction)
  mean, std = tuple(config.data.mean), tuple(config.data.std)

  load_image = _image_loader(config, src)

  def prepare(image, label):
    image = load_image(image)
    image = ops.resize_center_crop(image, size=size, resize=resize)
    return {
      "image": ops.normalize(image, mean=mean, std=std),
      "label": label,
      "valid": True,
    }

  ds = ds.map(_plain(prepare), num_parallel_calls=tf.data.AUTOTUNE)
  pad = num_batches * batch_size - len(src)
  if pad < 0:
    raise ValueError(
      f"split {split!r} of {config.data.name!r} holds more "
      f"examples than its metadata says ({stop - start})"
    )
  padding = {
    "image": tf.zeros([size, size, 3]),
    "label": tf.constant(0, tf.int32),
    "valid": False,
  }
  ds = ds.concatenate(tf.data.Dataset.from_tensors(padding).repeat(pad))
  ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
  return _named_errors(
    ds.with_options(_options()).as_numpy_iterator(), config, split
  )
