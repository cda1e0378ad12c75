"""Kind `image_text`: images paired with captions (CLIP, SigLIP).

Sources (`config.data.name`): "image_text_folder", images with same-name
.txt captions in `config.data.data_dir`, optionally in class sub-folders
(`jaxssl.data.image_text_sources`: layout, errors, and a converter of
Debian's openclipart-png clip art); any TFDS set with an image and a text
feature, e.g. "coco_captions" (`jaxssl.data.image_text_tfds`:
`data.image_key`, `data.text_key` such as "captions/text", an optional
ClassLabel `data.label_key`; several captions per image, one drawn per
image and epoch in training, the first in evaluation batches, all of them
in retrieval); or
"embedded_digits", the embedded digits
(`jaxssl.data.embedded`), each captioned from its own recipe draws
(`embedded.load_draws`), so a caption says what the image shows:
  digit     the label as a word ("zero" ... "nine", `CLASS_NAMES`);
  colour    the tint's hue, the nearest of `COLOURS` (six 60-degree bins
            centred on red, yellow, green, cyan, blue, magenta);
  shade     "dark" or "light": the digit darker / lighter than its backdrop;
  size      "small", "medium" or "large": the thirds of the log-uniform
            digit-size range (10-18 px);
  position  the 3x3 cell of the digit box's top / left draws, each cut in
            thirds of its free range ("top left" ... "centre" ... "bottom
            right", `POSITIONS`).
One of `TEMPLATES` per image, drawn with `config.data.caption_seed` and the
split, e.g. "a small dark seven in the top left on a red photo" or "a blue
photo of a seven": every caption names the digit, most only some of the
other attributes (as real captions do; see `TEMPLATES`). Captions
are a pure function of the cached draws and the seed: the same on every
run, each split its own (the test split is captioned from its own images).

Zero-shot prompts: the class names (`class_names`) in the templates of
`config.eval.zeroshot_templates`, by default the source's
(`default_templates`: the digits' own set for the digits, CLIP's 80
ImageNet templates for the others; `jaxssl.evals.zeroshot`).

Tokens: the run's tokenizer (`config.data.tokenizer`, WordPiece by
default, or "bpe"), trained on all the train split's captions at first use
and cached as the `tokens` kind's are (`jaxssl.data.tokenizer.cached`, keyed by
a hash of the captions), or loaded from `config.data.tokenizer_path`. Each
caption is one window of `config.data.seq_len`: `[CLS] caption [SEP]
[PAD]...` (wordpiece) or `caption <|endoftext|>` then padding (bpe),
truncated to fit.

Training batches are {"image": float32 [b, s, s, 3] (normalised;
optionally a random resized crop and a flip, as the `images` kind: both
are off by default, as they would contradict the captions' position and
size words), "tokens": int32 [b, l], "is_pad": bool [b, l] (True at
padding), "label": int32 [b], "index": int32 [b]}; the images come from the
`images` kind's seeded, exactly resumable pipeline and each caption is
looked up by the image's `index`. Evaluation batches are the image kinds'
{"image", "label", "valid"} plus the captions' "tokens" and "is_pad".
"""

from __future__ import annotations

import os
from typing import Any

import ml_collections
import numpy as np

from jaxssl.data import tokenizer as tokenizer_lib
from jaxssl.data.kinds import base
from jaxssl.data.kinds import images as images_kind

ConfigDict = ml_collections.ConfigDict

# The kind's own sources; any other name is a TFDS set (image_text_tfds).
SOURCES = ("embedded_digits", "image_text_folder")
CLASS_NAMES = (
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
)
COLOURS = ("red", "yellow", "green", "cyan", "blue", "magenta")
SIZES = ("small", "medium", "large")
ROWS = ("top", "centre", "bottom")
COLUMNS = ("left", "centre", "right")
POSITIONS = tuple(
  "centre" if r == c == "centre" else f"{r} {c}" for r in ROWS for c in COLUMNS
)
# Every caption names the digit; most name only some of the other
# attributes. With all of them in every caption (324 combinations of
# colour, shade, size and position), nearly every caption of a batch of 128
# is unique without its digit, so the contrastive task is solved without
# reading the digit (clip_quick: zero-shot top-1 12.5%, kNN 12%).
TEMPLATES = (
  "a {size} {shade} {digit} in the {position} on a {colour} photo",
  "a {colour} photo of a {digit}",
  "the number {digit} in the {position}",
  "a {size} {shade} digit {digit}",
  "a handwritten {digit}",
  "{digit}, {shade} on {colour}",
)


def _config() -> ConfigDict:
  return ConfigDict(
    {
      **base.image_keys(),
      # TFDS sets (image_text_tfds): the caption feature ("/" for nesting;
      # "": the set's own, coco_captions "captions/text") and an optional
      # ClassLabel feature ("": no labels, no zero-shot classification).
      "text_key": "",
      "label_key": "",
      "crop_scale": (1.0, 1.0),  # random resized crop: area fraction range
      "crop_ratio": (1.0, 1.0),  # ... and aspect-ratio range
      "flip_prob": 0.0,  # random horizontal flip (swaps left and right!)
      "tokenizer": "wordpiece",  # "wordpiece" (BERT) | "bpe" (GPT-2)
      "vocab_size": 256,  # when trained here (captions use ~60 words)
      "tokenizer_path": "",  # a tokenizer.json to load instead of training
      "seq_len": 24,  # tokens per caption, specials included
      "caption_seed": 0,  # draws each image's caption template
    }
  )


def _validate(config: ConfigDict) -> None:
  d = config.data
  if not d.name:
    base.fail(
      "data.name",
      d.name,
      f"kind 'image_text' reads {list(SOURCES)} or a TFDS "
      "image-text set (coco_captions, ...)",
    )
  images_kind.KIND.validate(config)
  if d.tokenizer not in tokenizer_lib.KINDS:
    base.fail(
      "data.tokenizer", d.tokenizer, f"must be one of {tokenizer_lib.KINDS}"
    )
  if d.seq_len < 3:
    base.fail("data.seq_len", d.seq_len, "must be >= 3 (specials + a token)")
  if not d.tokenizer_path:
    least = tokenizer_lib.MIN_VOCAB_SIZE[d.tokenizer]
    if d.vocab_size < least:
      base.fail("data.vocab_size", d.vocab_size, f"must be >= {least}")
  elif not os.path.isfile(d.tokenizer_path):
    base.fail("data.tokenizer_path", d.tokenizer_path, "no such file")
  if d.caption_seed < 0:
    base.fail("data.caption_seed", d.caption_seed, "must be >= 0")


# Captions ---------------------------------------------------------------------


def caption_words(draws: dict[str, np.ndarray], labels: np.ndarray) -> dict:
  """{"digit", "colour", "shade", "size", "position"}: [n] lists of words.

  Args:
    draws: `embedded.load_draws(split)`.
    labels: int [n] digit classes.
  """
  from jaxssl.data import embedded  # pylint: disable=g-import-not-at-top

  lo, hi = embedded._RECIPE.size_range  # pylint: disable=protected-access
  size_t = np.log(draws["size"] / lo) / np.log(hi / lo)
  colour = np.floor(np.asarray(draws["hue"]) * 6 + 0.5).astype(int) % 6
  row = np.clip((draws["top_frac"] * 3).astype(int), 0, 2)
  col = np.clip((draws["left_frac"] * 3).astype(int), 0, 2)
  return {
    "digit": [CLASS_NAMES[y] for y in labels],
    "colour": [COLOURS[c] for c in colour],
    "shade": ["dark" if d else "light" for d in draws["darker"]],
    "size": [SIZES[s] for s in np.clip((size_t * 3).astype(int), 0, 2)],
    "position": [POSITIONS[3 * r + c] for r, c in zip(row, col)],
  }


def make_captions(
  draws: dict[str, np.ndarray], labels: np.ndarray, *, seed: int, split: str
) -> list[str]:
  """One caption per image from its draws; the template from (seed, split)."""
  words = caption_words(draws, labels)
  split_key = int.from_bytes(split.encode("utf-8"), "little")
  rng = np.random.default_rng(np.random.SeedSequence([seed, split_key]))
  which = rng.integers(len(TEMPLATES), size=len(labels))
  keys = list(words)
  return [
    TEMPLATES[t].format(**{k: words[k][i] for k in keys})
    for i, t in enumerate(which)
  ]


_CAPTIONS: dict[tuple, list[str]] = {}
_TOKENS: dict[tuple, dict[str, np.ndarray]] = {}


def clear_cache() -> None:
  """Forgets captions and tokenized captions (for tests)."""
  from jaxssl.data import image_text_tfds  # pylint: disable=g-import-not-at-top

  _CAPTIONS.clear()
  _TOKENS.clear()
  image_text_tfds.clear_cache()


def is_tfds(config) -> bool:
  """Whether `config.data.name` is a TFDS set (`image_text_tfds`)."""
  return config.data.name not in SOURCES


def _subsampled(config, split: str, rows: list) -> list:
  """`rows` (one per image of the whole split) of the per-class subsample
  `data.max_*_per_class` keeps, as the images are."""
  from jaxssl.data import sources  # pylint: disable=g-import-not-at-top

  kept = sources._kept(config.data, split, len(rows))  # pylint: disable=protected-access
  return rows if kept is None else [rows[i] for i in kept]


def caption_sets(config, split: str) -> list[tuple[str, ...]]:
  """Every caption of each image of `split`, in the images' order: one per
  image but for TFDS sets with several (cached per process)."""
  from jaxssl.data import embedded  # pylint: disable=g-import-not-at-top

  d = config.data
  if d.name == "embedded_digits":
    key = (embedded.version(), d.caption_seed, split)
  else:
    ident = (d.image_key, d.text_key, d.label_key) if is_tfds(config) else ()
    key = (
      d.name,
      os.path.abspath(d.data_dir) if d.data_dir else "",
      *ident,
      d.max_train_per_class,
      d.max_eval_per_class,
      split,
    )
  if key in _CAPTIONS:
    return _CAPTIONS[key]
  if d.name == "embedded_digits":
    labels = embedded.load(split)["label"]
    draws = embedded.load_draws(split)
    texts = make_captions(draws, labels, seed=d.caption_seed, split=split)
    rows = [(t,) for t in texts]
  elif d.name == "image_text_folder":
    from jaxssl.data import sources  # pylint: disable=g-import-not-at-top

    texts = sources._captioned_split(d.data_dir, split).captions  # pylint: disable=protected-access
    rows = _subsampled(config, split, [(t,) for t in texts])
  else:
    from jaxssl.data import image_text_tfds  # pylint: disable=g-import-not-at-top

    rows = list(image_text_tfds.load_split(d, split).captions)
    rows = _subsampled(config, split, rows)
  _CAPTIONS[key] = rows
  return rows


def captions(config, split: str) -> list[str]:
  """The first caption of each image of `split`, in the images' order (the
  one evaluation pairs it with)."""
  return [c[0] for c in caption_sets(config, split)]


def caption_choice(
  seed: int, epoch: np.ndarray, index: np.ndarray, count: np.ndarray
) -> np.ndarray:
  """Which of its `count` captions image `index` gets in `epoch` (int64).

  A SplitMix64 hash of (seed, epoch, index) modulo count: a pure function,
  so resumed runs draw the same, and each epoch draws anew.
  """
  with np.errstate(over="ignore"):
    x = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    x = x ^ (np.asarray(epoch, np.uint64) * np.uint64(0xBF58476D1CE4E5B9))
    x = x ^ (np.asarray(index, np.uint64) * np.uint64(0x94D049BB133111EB))
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
      x = (x ^ (x >> np.uint64(shift))) * np.uint64(mult)
    x = x ^ (x >> np.uint64(31))
  return (x % np.asarray(count, np.uint64)).astype(np.int64)


def _source_class_names(config) -> tuple[str, ...]:
  d = config.data
  if d.name == "embedded_digits":
    return CLASS_NAMES
  if d.name == "image_text_folder":
    from jaxssl.data import image_text_sources  # pylint: disable=g-import-not-at-top

    names = image_text_sources.class_names(d.data_dir)
    return tuple(n.replace("_", " ") for n in names)
  from jaxssl.data import image_text_tfds  # pylint: disable=g-import-not-at-top

  return image_text_tfds.class_names(d)


def has_class_names(config) -> bool:
  """Whether the source names its classes (zero-shot classification)."""
  return bool(_source_class_names(config))


def class_names_hint(config) -> str:
  """How to give the source class names (for error messages)."""
  d = config.data
  if d.name == "image_text_folder":
    return (
      f"config.data.data_dir={d.data_dir!r} has no class folders: put each "
      "split's images in class sub-folders"
    )
  return (
    f"config.data.label_key={d.label_key!r}: name a ClassLabel feature of "
    f"{d.name!r}"
  )


def class_names(config) -> tuple[str, ...]:
  """The dataset's class names, by label (zero-shot prompts use them).

  embedded_digits: "zero" ... "nine"; image_text_folder: its class
  folders' names, "_" read as a space; a TFDS set: the ClassLabel names of
  `data.label_key`, "_" read as a space.

  Raises:
    ValueError: a source without class names (`class_names_hint`).
  """
  names = _source_class_names(config)
  if not names:
    raise ValueError(
      f"{class_names_hint(config)}; without class names there are no "
      "zero-shot prompts"
    )
  return names


def default_templates(config) -> str:
  """The source's zero-shot prompt set (`jaxssl.evals.zeroshot`)."""
  return "digits" if config.data.name == "embedded_digits" else "clip_imagenet"


def get_tokenizer(config):
  """(tokenizers.Tokenizer, tokenizer.Specials) of `config.data`."""
  from jaxssl.data import embedded  # pylint: disable=g-import-not-at-top

  d = config.data
  if d.tokenizer_path:
    tok = tokenizer_lib.from_file(d.tokenizer_path)
  else:
    texts = [t for c in caption_sets(config, d.train_split) for t in c]
    source = (
      f"{embedded.NAME}_{embedded.version()}"
      if d.name == "embedded_digits"
      else d.name.replace("/", "_")
    )
    corpus = f"{source}_captions_{tokenizer_lib.corpus_key(texts)}"
    tok = tokenizer_lib.cached(corpus, d.tokenizer, d.vocab_size, lambda: texts)
  tok.encode_special_tokens = True
  return tok, tokenizer_lib.specials(tok, d.tokenizer)


def encode_texts(config, texts) -> dict[str, np.ndarray]:
  """{"tokens" int32 [n, l], "is_pad" bool [n, l]}: one window per text.

  wordpiece: `[CLS] text [SEP]`; bpe: `text <|endoftext|>`; truncated to
  `config.data.seq_len` (the closing special kept), then padding.
  """
  tok, specials = get_tokenizer(config)
  return tokenizer_lib.encode_texts(
    tok,
    specials,
    texts,
    kind=config.data.tokenizer,
    seq_len=config.data.seq_len,
    end_of_text=True,
  )


def caption_tokens(config, split: str) -> dict[str, np.ndarray]:
  """`encode_texts` of `split`'s captions (cached per process).

  Returns:
    {"tokens" int32 [m, l], "is_pad" bool [m, l]: every caption of every
    image, image after image; "offsets" int64 [n + 1]: image i's captions
    are rows offsets[i] ... offsets[i + 1] - 1 (its first is the
    evaluation caption)}.
  """
  d = config.data
  tok_key = (
    ("path", os.path.abspath(d.tokenizer_path), d.tokenizer)
    if d.tokenizer_path
    else ("trained", d.tokenizer, d.vocab_size)
  )
  source = (
    d.name,
    os.path.abspath(d.data_dir) if d.data_dir else "",
    d.text_key,
    d.max_train_per_class,
    d.max_eval_per_class,
  )
  key = (source, d.caption_seed, tok_key, d.seq_len, split)
  if key not in _TOKENS:
    sets = caption_sets(config, split)
    rows = encode_texts(config, [t for c in sets for t in c])
    counts = np.asarray([len(c) for c in sets], np.int64)
    rows["offsets"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    _TOKENS[key] = rows
  return _TOKENS[key]


# Batches ----------------------------------------------------------------------


def _with_captions(batches, rows, *, seed, first_step, shard_size):
  """Each image's caption of the epoch its stream position falls in (the
  pipeline's position k = step * b + row; epoch k // shard size)."""
  offsets = rows["offsets"]
  counts = np.diff(offsets)
  single = bool(np.all(counts == 1))
  for step, batch in enumerate(batches, start=first_step):
    index = batch["index"]
    if np.any(index < 0):  # streamed sources have no position to look up
      raise ValueError("image_text needs in-memory images with an index")
    row = offsets[index]
    if not single:
      b = len(index)
      epoch = (step * b + np.arange(b)) // shard_size
      row = row + caption_choice(seed, epoch, index, counts[index])
    batch["tokens"] = rows["tokens"][row]
    batch["is_pad"] = rows["is_pad"][row]
    yield batch


def _train_batches(
  config,
  *,
  start_step: int = 0,
  process_index: int | None = None,
  process_count: int | None = None,
):
  from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

  rows = caption_tokens(config, config.data.train_split)
  batches = images_kind.KIND.train_batches(
    config,
    start_step=start_step,
    process_index=process_index,
    process_count=process_count,
  )
  index, count = pipeline._process(process_index, process_count)  # pylint: disable=protected-access
  start, stop = pipeline.host_range(len(rows["offsets"]) - 1, index, count)
  return _with_captions(
    batches,
    rows,
    seed=config.data.caption_seed,
    first_step=start_step,
    shard_size=stop - start,
  )


def _eval_batches(
  config,
  split: str,
  *,
  batch_size: int,
  process_index: int | None = None,
  process_count: int | None = None,
  max_examples: int = 0,
):
  """The image kinds' eval pass with each image's caption alongside."""
  from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

  images = pipeline.eval_batches(
    config,
    split,
    batch_size=batch_size,
    process_index=process_index,
    process_count=process_count,
    max_examples=max_examples,
  )
  index, count = pipeline._process(process_index, process_count)  # pylint: disable=protected-access
  rows = caption_tokens(config, split)
  total = len(rows["offsets"]) - 1
  if max_examples > 0:
    total = min(total, max_examples)
  start, stop = pipeline.host_range(total, index, count)
  _, specials = get_tokenizer(config)
  seq_len = config.data.seq_len

  def batches():
    for i, batch in enumerate(images):
      lo = min(start + i * batch_size, stop)
      hi = min(lo + batch_size, stop)
      pad = batch_size - (hi - lo)
      first = rows["offsets"][lo:hi]  # each image's first caption
      batch["tokens"] = np.concatenate(
        [rows["tokens"][first], np.full((pad, seq_len), specials.pad, np.int32)]
      )
      batch["is_pad"] = np.concatenate(
        [rows["is_pad"][first], np.ones((pad, seq_len), bool)]
      )
      yield batch

  return batches()


def _text_spec(b: int, l: int) -> dict[str, Any]:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  return {
    "tokens": jax.ShapeDtypeStruct((b, l), jnp.int32),
    "is_pad": jax.ShapeDtypeStruct((b, l), jnp.bool_),
  }


def _batch_spec(config) -> dict[str, Any]:
  spec = images_kind.KIND.batch_spec(config)
  return {**spec, **_text_spec(config.train.batch_size, config.data.seq_len)}


def _eval_spec(config, batch_size: int) -> dict[str, Any]:
  spec = base.image_eval_spec(config, batch_size)
  return {**spec, **_text_spec(batch_size, config.data.seq_len)}


def _size_hint(config) -> str:
  d = config.data
  return (
    f"config.data.image_size={d.image_size}, config.data.seq_len={d.seq_len}"
  )


def _smoke(config, image_size: int | None) -> None:
  if image_size is not None:
    config.data.image_size = min(config.data.image_size, image_size)
  config.data.seq_len = min(config.data.seq_len, 24)


def max_caption_tokens(config, split: str) -> int:
  """The longest caption of `split` in tokens, specials included."""
  rows = caption_tokens(config, split)
  return int((~rows["is_pad"]).sum(1).max())


KIND = base.DataKind(
  name="image_text",
  config=_config,
  validate=_validate,
  info=base.image_info,
  train_batches=_train_batches,
  eval_batches=_eval_batches,
  batch_spec=_batch_spec,
  eval_spec=_eval_spec,
  size_hint=_size_hint,
  smoke=_smoke,
)
