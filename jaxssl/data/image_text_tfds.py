"""TFDS image-text sets of the `image_text` kind: coco_captions, or any set.

`config.data.name` a TFDS dataset name other than the kind's own sources
("embedded_digits", "image_text_folder"), prepared in `config.data.data_dir`
(TFDS' default folder when empty; a missing one fails at once with the
`tfds build` command, as the image sources do). Its features:
  data.image_key  an Image feature ("image").
  data.text_key   the caption feature, "/" going into nested features and
                  Sequences: a Text feature, or a Sequence of them (several
                  captions per image). "" (the default) means the set's
                  own: "captions/text" for coco_captions; other sets name
                  theirs (e.g. "caption").
  data.label_key  "" (the default): no labels (every image label 0, one
                  class, no zero-shot classification: the `zeroshot`
                  protocol scores retrieval only); else a ClassLabel
                  feature, whose names (with "_" read as a space) are the
                  zero-shot class names.
A wrong key fails with one line naming the key and the set's features.

Several captions per image (coco_captions: 5, a few images 6 or 7). The
tokenizer is trained on all the train split's captions. Training pairs an
image with one of its captions per epoch, drawn from (`data.caption_seed`,
epoch, image) by `caption_choice`: deterministic, the same on resume, a
new draw each epoch (as open_clip's and big_vision's COCO pipelines draw
one per example). Evaluation batches pair each image with its first
caption; the `zeroshot` protocol's retrieval scores the test images
against ALL their captions (`image_text.caption_tokens`: coco's 5k test
images and ~25k captions, i2t a hit when any of the image's captions is in
the top k), as CLIP (arXiv:2103.00020, Table 13) and big_vision's
retrieval evaluator do.

TFDS' coco_captions splits are Karpathy's: train (82,783 images), restval
(30,504), val (5,000) and test (5,000); `data.train_split="train+restval"`
gives the 113k images papers train on.

Split names are TFDS split expressions ("train+restval", "train[:10%]").
Images are held in memory as encoded bytes, one host's shard of a split
(coco_captions train+restval: roughly 19 GB of JPEG on a single host); a
shard above `MEMORY_LIMIT_BYTES` fails with a one-line error (run on more
hosts, or train on a sub-split). Streaming from disk, as the image kinds
do for ImageNet, is not supported: captions are looked up by position.

What belongs here: reading and checking TFDS image-text sets. The batches
are the `image_text` kind's; the image pipeline is `jaxssl.data.pipeline`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

# The caption feature of sets whose layout is known ("" text_key).
DEFAULT_TEXT_KEYS = {"coco_captions": "captions/text"}
# A host's shard of encoded images above this fails (held in memory).
MEMORY_LIMIT_BYTES = 64 << 30


@dataclasses.dataclass(frozen=True)
class Split:
  """The captions and labels of one split, in stored order.

  Attributes:
    captions: [n] tuples of one or more caption strings per image.
    labels: int32 [n] (0 without `data.label_key`).
  """

  captions: tuple[tuple[str, ...], ...]
  labels: np.ndarray


_CACHE: dict[tuple, object] = {}


def clear_cache() -> None:
  """Forgets builders and loaded splits (for tests)."""
  _CACHE.clear()


def _cached(key, fn):
  if key not in _CACHE:
    _CACHE[key] = fn()
  return _CACHE[key]


def _ident(d) -> tuple:
  return (d.name, d.data_dir, d.image_key, text_key(d), d.label_key)


def text_key(data_config) -> str:
  """`data.text_key`, or the set's own caption feature when it is ""."""
  if data_config.text_key:
    return data_config.text_key
  if data_config.name in DEFAULT_TEXT_KEYS:
    return DEFAULT_TEXT_KEYS[data_config.name]
  return ""


def feature_paths(features, prefix: str = "") -> list[str]:
  """ "path (type)" of every leaf feature, "/"-joined through nesting."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  out = []
  for name in sorted(features.keys()):
    f = features[name]
    path = f"{prefix}{name}"
    while isinstance(f, tfds.features.Sequence):
      f = f.feature
    if isinstance(f, tfds.features.FeaturesDict):
      out.extend(feature_paths(f, path + "/"))
    else:
      out.append(f"{path} ({_kind(f)})")
  return out


def _is_text(feature) -> bool:
  """A Text feature or a string Tensor (coco's captions/text)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  if isinstance(feature, tfds.features.Text):
    return True
  return isinstance(feature, tfds.features.Tensor) and (
    feature.tf_dtype == tf.string
  )


def _kind(feature) -> str:
  return "text" if _is_text(feature) else type(feature).__name__


def _split_path(keys, path: str) -> tuple[str, str]:
  """(the key `path` starts with, the rest): keys may hold "/" themselves
  ("image/id"), the longest that fits wins."""
  parts = path.split("/")
  for n in range(len(parts), 0, -1):
    head = "/".join(parts[:n])
    if head in keys:
      return head, "/".join(parts[n:])
  return "", path


def _find(features, path: str):
  """(the feature at `path`, whether a Sequence is on the way) or None."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  f, many = features, False
  while path:
    while isinstance(f, tfds.features.Sequence):
      f, many = f.feature, True
    if not isinstance(f, tfds.features.FeaturesDict):
      return None
    head, path = _split_path(f.keys(), path)
    if not head:
      return None
    f = f[head]
  while isinstance(f, tfds.features.Sequence):
    f, many = f.feature, True
  return f, many


def _bad_key(d, key: str, value: str, why: str, features) -> ValueError:
  listing = ", ".join(feature_paths(features))
  return ValueError(
    f"config.data.{key}={value!r} {why} of TFDS {d.name!r}; its features: "
    f"{listing}"
  )


def builder(data_config):
  """The prepared TFDS builder of `config.data`, its keys checked (cached).

  Raises:
    ValueError: not a TFDS name; a key that is not an Image / Text /
      ClassLabel feature of the set (naming the key and the features).
    FileNotFoundError: the set is not prepared (with the command).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  d = data_config
  name, data_dir = d.name, d.data_dir or None

  def build():
    try:
      b = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
      raise ValueError(
        f"config.data.name={name!r}: kind 'image_text' reads "
        "'embedded_digits', 'image_text_folder' or a TFDS dataset name (see "
        "tfds.list_builders())"
      ) from None
    if not b.is_prepared():
      root = data_dir or os.path.dirname(os.path.dirname(b.data_dir))
      raise FileNotFoundError(
        f"TFDS dataset {name!r} is not prepared in data_dir={root!r} "
        f"(looked for {b.data_dir}); download it with `tfds build {name} "
        f"--data_dir {root}`, or set config.data.data_dir"
      )
    features = b.info.features
    found = _find(features, d.image_key)
    if found is None or not isinstance(found[0], tfds.features.Image):
      raise _bad_key(d, "image_key", d.image_key, "is not an Image", features)
    key = text_key(d)
    if not key:
      raise _bad_key(
        d, "text_key", "", "is empty: name the caption feature", features
      )
    found = _find(features, key)
    if found is None or not _is_text(found[0]):
      raise _bad_key(
        d, "text_key", key, "is not a text feature (or Sequence of)", features
      )
    if d.label_key:
      found = _find(features, d.label_key)
      if found is None or not isinstance(found[0], tfds.features.ClassLabel):
        raise _bad_key(
          d,
          "label_key",
          d.label_key,
          "is not a ClassLabel feature (set '' for none)",
          features,
        )
      if found[1]:
        why = "holds several labels per image"
        raise _bad_key(d, "label_key", d.label_key, why, features)
    return b

  return _cached(("builder", *_ident(d)), build)


def _get(example, path: str):
  while path:
    head, path = _split_path(example.keys(), path)
    example = example[head]
  return example


def class_names(data_config) -> tuple[str, ...]:
  """The ClassLabel names of `data.label_key` ("_" read as a space); ()
  without one."""
  if not data_config.label_key:
    return ()
  feature, _ = _find(builder(data_config).info.features, data_config.label_key)
  return tuple(n.replace("_", " ") for n in feature.names)


def _parts(data_config, split: str) -> list[tuple[str, int, int]]:
  """(split name, start, stop) of each part of a TFDS split expression
  ("train", "train+restval", "train[:10%]", ...).

  Raises:
    ValueError: not a split of the set (naming the available ones).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  infos = builder(data_config).info.splits
  try:
    instructions = tfds.core.ReadInstruction.from_spec(split).to_absolute(infos)
  except Exception:  # pylint: disable=broad-except  # TFDS raises several
    raise ValueError(
      f"dataset {data_config.name!r} has no split {split!r}; available "
      f"splits: {sorted(infos.keys())}"
    ) from None
  return [
    (
      a.splitname,
      a.from_ or 0,
      infos[a.splitname].num_examples if a.to is None else a.to,
    )
    for a in instructions
  ]


def split_sizes(data_config) -> dict[str, int]:
  """Examples per split, the configured train / eval split expressions
  ("train+restval") included."""
  infos = builder(data_config).info.splits
  sizes = {k: v.num_examples for k, v in infos.items()}
  for split in (data_config.train_split, data_config.eval_split):
    if split not in sizes:
      try:
        sizes[split] = sum(hi - lo for _, lo, hi in _parts(data_config, split))
      except ValueError:
        pass  # the pipeline names the split and the available ones
  return sizes


def _sub_split(data_config, split: str, start: int, stop: int) -> str:
  """The TFDS spec of examples [start, stop) of `split`'s concatenation."""
  pieces, offset = [], 0
  for name, lo, hi in _parts(data_config, split):
    a, b = max(lo, lo + start - offset), min(hi, lo + stop - offset)
    if a < b:
      pieces.append(f"{name}[{a}:{b}]")
    offset += hi - lo
  return "+".join(pieces)


def _check_split(data_config, split: str) -> None:
  _parts(data_config, split)


def load_split(data_config, split: str) -> Split:
  """The captions and labels of a whole `split` (cached; reads it once,
  images skipped undecoded).

  Raises:
    ValueError: an unknown split; an image without any caption (naming the
      split and its position).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  d = data_config
  b = builder(d)
  _check_split(d, split)
  key, label_key = text_key(d), d.label_key

  def read():
    ds = b.as_dataset(
      split=split,
      decoders={d.image_key: tfds.decode.SkipDecoding()},
      read_config=tfds.ReadConfig(try_autocache=False),
    )

    def select(ex):
      label = _get(ex, label_key) if label_key else tf.constant(0)
      return tf.reshape(_get(ex, key), [-1]), tf.cast(label, tf.int32)

    captions, labels = [], []
    for i, (texts, label) in enumerate(ds.map(select).as_numpy_iterator()):
      texts = tuple(" ".join(t.decode("utf-8").split()) for t in texts)
      texts = tuple(t for t in texts if t)
      if not texts:
        raise ValueError(
          f"TFDS {d.name!r} split {split!r}: example {i} has no caption in "
          f"config.data.text_key={key!r}"
        )
      captions.append(texts)
      labels.append(label)
    return Split(tuple(captions), np.asarray(labels, np.int32))

  return _cached(("split", *_ident(d), split), read)


def examples(data_config, split: str, start: int, stop: int):
  """`sources.Examples` [start, stop) of `split`: encoded image bytes
  ("encoded") and labels, in memory (cached).

  Raises:
    ValueError: the shard's encoded images exceed `MEMORY_LIMIT_BYTES`.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  from jaxssl.data import sources  # pylint: disable=g-import-not-at-top

  d = data_config
  b = builder(d)
  _check_split(d, split)
  n = stop - start
  infos = b.info.splits
  size = sum(
    int(infos[name].num_bytes) * (hi - lo) / max(infos[name].num_examples, 1)
    for name, lo, hi in _parts(d, _sub_split(d, split, start, stop))
  )
  if size > MEMORY_LIMIT_BYTES:
    raise ValueError(
      f"TFDS {d.name!r} split {split!r}: this host's {n} images hold "
      f"~{size / 2**30:.0f} GiB encoded, above the in-memory limit of "
      f"{MEMORY_LIMIT_BYTES / 2**30:.0f} GiB "
      "(jaxssl.data.image_text_tfds.MEMORY_LIMIT_BYTES); run on more hosts "
      "or train on a sub-split (config.data.train_split)"
    )
  labels = load_split(d, split).labels[start:stop]

  def read():
    ds = b.as_dataset(
      split=_sub_split(d, split, start, stop),
      decoders={d.image_key: tfds.decode.SkipDecoding()},
      read_config=tfds.ReadConfig(try_autocache=False),
    )
    ds = ds.map(lambda ex: _get(ex, d.image_key)).batch(1024)
    images = [x.astype(object) for x in ds.as_numpy_iterator()]
    images = np.concatenate(images) if images else np.zeros(0, object)
    if len(images) != n:
      raise ValueError(
        f"TFDS {d.name!r} split {split!r}[{start}:{stop}] read "
        f"{len(images)} images, its metadata says {n}"
      )
    return sources.Examples(images, labels, "encoded")

  return _cached(("images", *_ident(d), split, start, stop), read)


def source_info(data_config):
  """`sources.SourceInfo`: classes (1 without labels) and split sizes."""
  from jaxssl.data import sources  # pylint: disable=g-import-not-at-top

  names = class_names(data_config)
  return sources.SourceInfo(max(len(names), 1), split_sizes(data_config))
