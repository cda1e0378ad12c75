"""Kind `tokens`: text, tokenized and packed into fixed-length windows.

Documents come from `jaxssl.data.text_sources` (`config.data.name`:
"embedded_text", the default, "text_folder", or a TFDS text dataset), are
tokenized (`jaxssl.data.tokenizer`: `config.data.tokenizer` "wordpiece" or
"bpe", trained on the train split at first use and cached, or loaded from
`config.data.tokenizer_path`) and packed into windows of
`config.data.seq_len` tokens, each split on its own, so no window holds
tokens of two splits:
  wordpiece  BERT-style: every document is cut into pieces of seq_len - 2
             tokens, each window `[CLS] piece [SEP] [PAD]...`; a window
             never holds two documents.
  bpe        GPT-style: the documents, each followed by <|endoftext|>,
             concatenated and cut into windows of seq_len tokens; only the
             split's last window is padded (with <|endoftext|>).
Special tokens written in the text itself ("[MASK]" in a docstring) are
encoded as plain text, never as the special token.

Training batches are {"tokens": int32 [b, l], "is_pad": bool [b, l] (True
at padding), "label": int32 [b] (the document's class; -1 without labels;
for bpe the document of the window's first token), "index": int32 [b] (the
window's position in the split)}. Evaluation batches have "tokens",
"is_pad", "label" and a bool "valid" [b], and no "index". Sizes
(`DatasetInfo.num_train` / `num_eval`) count windows.

Sources of sentence pairs (`config.data.name` "text_pairs", "wordnet_pairs":
`jaxssl.data.text_pairs`) train on pairs instead: each sentence is a window
of its own, `[CLS] sentence [SEP] [PAD]...` (the sentence's tokens for
bpe), truncated to seq_len, and the training batches are {"tokens",
"is_pad" (the anchors), "positive_tokens", "positive_is_pad", with
`config.data.hard_negatives` "negative_tokens", "negative_is_pad" (all
[b, l]), "label", "index"} (index: the pair's position in the split; sizes
count pairs). Evaluation batches are the source's documents' windows, as
above (for "wordnet_pairs" the "wordnet" glosses).

Ordering and exact resume as in `jaxssl.data.pipeline`, in NumPy: host i of
P trains on windows [i * N // P, (i + 1) * N // P) of the split; position
k of its stream is slot k % n of epoch k // n, through a permutation seeded
by (config.seed, process index, epoch). Batch s holds positions [s * b,
(s + 1) * b), so `start_step=s` computes it directly: O(1) to resume (one
permutation of the shard), the very same batches.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from typing import Any

import ml_collections
import numpy as np

from jaxssl.data import text_pairs, text_sources
from jaxssl.data import tokenizer as tokenizer_lib
from jaxssl.data.kinds import base

ConfigDict = ml_collections.ConfigDict


def _config() -> ConfigDict:
  return ConfigDict(
    {
      # "embedded_text" (ships with Python), "text_folder" (data_dir), or a
      # TFDS text dataset name (lm1b, imdb_reviews, ag_news_subset, ...).
      "name": text_sources.EMBEDDED,
      "tokenizer": "wordpiece",  # "wordpiece" (BERT) | "bpe" (GPT-2)
      "vocab_size": tokenizer_lib.DEFAULT_VOCAB_SIZE,  # when trained here
      "tokenizer_path": "",  # a tokenizer.json to load instead of training
      "seq_len": 128,  # tokens per window, specials included
      "text_key": "text",  # TFDS: the text feature
      "label_key": "",  # TFDS: the ClassLabel feature; "" for no labels
      # Pair sources (text_pairs, wordnet_pairs): also a hard negative per
      # pair (a file's hard_neg column; WordNet: another topic's gloss).
      "hard_negatives": True,
    }
  )


def _validate(config: ConfigDict) -> None:
  d = config.data
  if d.tokenizer not in tokenizer_lib.KINDS:
    base.fail(
      "data.tokenizer", d.tokenizer, f"must be one of {tokenizer_lib.KINDS}"
    )
  least = 3 if d.tokenizer == "wordpiece" else 2
  if d.seq_len < least:
    why = (
      "needs room for [CLS], [SEP] and a token"
      if d.tokenizer == "wordpiece"
      else "needs an input and a next token"
    )
    base.fail("data.seq_len", d.seq_len, f"must be >= {least} ({why})")
  if not d.tokenizer_path:
    least = tokenizer_lib.MIN_VOCAB_SIZE[d.tokenizer]
    if d.vocab_size < least:
      base.fail("data.vocab_size", d.vocab_size, f"must be >= {least}")
  elif not os.path.isfile(d.tokenizer_path):
    base.fail("data.tokenizer_path", d.tokenizer_path, "no such file")
  if not d.text_key:
    base.fail("data.text_key", d.text_key, "must name a text feature")


# Tokenizer and packing --------------------------------------------------------

_WINDOWS: dict[tuple, Any] = {}


def clear_cache() -> None:
  """Forgets packed windows and loaded documents (for tests)."""
  _WINDOWS.clear()
  text_sources.clear_cache()
  text_pairs.clear_cache()


def _tokenizer_key(d) -> tuple:
  if d.tokenizer_path:
    return ("path", os.path.abspath(d.tokenizer_path), d.tokenizer)
  return ("trained", d.tokenizer, d.vocab_size)


def get_tokenizer(config):
  """(tokenizers.Tokenizer, tokenizer.Specials) of `config.data`."""
  d = config.data
  if d.tokenizer_path:
    tok = tokenizer_lib.from_file(d.tokenizer_path)
  elif d.name == text_sources.EMBEDDED:
    tok = tokenizer_lib.embedded(d.tokenizer, d.vocab_size)
  else:
    texts = [x.text for x in text_sources.documents(d, d.train_split)]
    name = "".join(c if c.isalnum() else "_" for c in d.name)
    corpus = f"{name}_{tokenizer_lib.corpus_key(texts)}"
    tok = tokenizer_lib.cached(corpus, d.tokenizer, d.vocab_size, lambda: texts)
  # Literal "[MASK]" etc. in the text is text, not a special token.
  tok.encode_special_tokens = True
  return tok, tokenizer_lib.specials(tok, d.tokenizer)


def _pack(docs, tok, specials, kind: str, seq_len: int) -> dict[str, Any]:
  """{"tokens" [n, l], "is_pad" [n, l], "label" [n]} windows of `docs`."""
  encoded = tok.encode_batch(
    [doc.text for doc in docs], add_special_tokens=False
  )
  ids = [e.ids for e in encoded]
  labels = np.array([doc.label for doc in docs], np.int32)
  if kind == "wordpiece":
    width = seq_len - 2
    pieces, owner = [], []
    for i, doc_ids in enumerate(ids):
      for s in range(0, len(doc_ids), width):
        pieces.append(doc_ids[s : s + width])
        owner.append(i)
    tokens = np.full((len(pieces), seq_len), specials.pad, np.int32)
    lengths = np.array([len(p) + 2 for p in pieces], np.int64)
    for row, piece in zip(tokens, pieces):
      row[0] = specials.cls
      row[1 : 1 + len(piece)] = piece
      row[1 + len(piece)] = specials.sep
    owner = np.array(owner, np.int64)
  else:
    stream = np.fromiter(
      itertools.chain.from_iterable(x + [specials.eot] for x in ids),
      np.int32,
    )
    n = math.ceil(len(stream) / seq_len)
    tokens = np.full((n * seq_len,), specials.pad, np.int32)
    tokens[: len(stream)] = stream
    tokens = tokens.reshape(n, seq_len)
    lengths = np.clip(len(stream) - seq_len * np.arange(n), 0, seq_len)
    ends = np.cumsum([len(x) + 1 for x in ids])
    owner = np.searchsorted(ends, seq_len * np.arange(n), side="right")
  is_pad = np.arange(seq_len)[None, :] >= lengths[:, None]
  label = labels[owner] if len(owner) else np.zeros((0,), np.int32)
  return {"tokens": tokens, "is_pad": is_pad, "label": label}


def windows(config, split: str) -> dict[str, Any]:
  """The packed windows of `split` (cached per process).

  Returns:
    {"tokens": int32 [n, l], "is_pad": bool [n, l], "label": int32 [n]}.
  """
  d = config.data
  key = (
    text_sources.source_key(d),
    _tokenizer_key(d),
    d.seq_len,
    split,
  )
  if key not in _WINDOWS:
    tok, specials = get_tokenizer(config)
    docs = text_sources.documents(d, split)
    _WINDOWS[key] = _pack(docs, tok, specials, d.tokenizer, d.seq_len)
  return _WINDOWS[key]


def pair_windows(config, split: str) -> dict[str, Any]:
  """The windows of a pair source's `split` (cached per process).

  Returns:
    `text_pairs.pack`'s {"tokens", "is_pad", "positive_tokens",
    "positive_is_pad"[, "negative_tokens", "negative_is_pad"]} [n, l] and
    "label" [n].
  """
  d = config.data
  key = (
    "pairs",
    text_sources.source_key(d),
    bool(d.hard_negatives),
    _tokenizer_key(d),
    d.seq_len,
    split,
  )
  if key not in _WINDOWS:
    tok, specials = get_tokenizer(config)
    pairs = text_pairs.pairs(d, split)
    _WINDOWS[key] = text_pairs.pack(
      pairs, tok, specials, d.tokenizer, d.seq_len
    )
  return _WINDOWS[key]


def _train_windows(config) -> dict[str, Any]:
  """What training batches are drawn from: pairs or document windows."""
  if text_pairs.is_pair_source(config.data):
    return pair_windows(config, config.data.train_split)
  return windows(config, config.data.train_split)


def _info(config) -> base.DatasetInfo:
  """Sizes in windows (not documents; num_train: pairs for a pair source);
  num_classes 0 without labels."""
  d = config.data
  return base.DatasetInfo(
    num_classes=text_sources.num_classes(d),
    num_train=len(_train_windows(config)["tokens"]),
    num_eval=len(windows(config, d.eval_split)["tokens"]),
  )


# Batches ----------------------------------------------------------------------


def _process(process_index, process_count) -> tuple[int, int]:
  if process_index is None or process_count is None:
    import jax  # pylint: disable=g-import-not-at-top

    if process_index is None:
      process_index = jax.process_index()
    if process_count is None:
      process_count = jax.process_count()
  if not 0 <= process_index < process_count:
    raise ValueError(
      f"process_index={process_index} is not in "
      f"[0, process_count={process_count})"
    )
  return process_index, process_count


def _host_range(total: int, index: int, count: int) -> tuple[int, int]:
  return total * index // count, total * (index + 1) // count


def _train_batches(
  config,
  *,
  start_step: int = 0,
  process_index: int | None = None,
  process_count: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
  """Endless host-local training batches (see the module docstring)."""
  if start_step < 0:
    raise ValueError(f"start_step={start_step} must be >= 0")
  process_index, process_count = _process(process_index, process_count)
  d, batch_size = config.data, config.train.batch_size
  if batch_size % process_count:
    raise ValueError(
      f"config.train.batch_size={batch_size} is not divisible by the "
      f"{process_count} processes (hosts)"
    )
  b = batch_size // process_count
  data = _train_windows(config)
  num_tokens = int((~data["is_pad"]).sum())
  if text_pairs.is_pair_source(d):
    if len(data["tokens"]) < batch_size:
      raise ValueError(
        f"split {d.train_split!r} of {d.name!r} has {len(data['tokens'])} "
        f"pairs, fewer than one batch (config.train.batch_size={batch_size})"
      )
  elif num_tokens < batch_size * d.seq_len:
    raise ValueError(
      f"split {d.train_split!r} of {d.name!r} has {num_tokens} tokens, "
      f"fewer than one batch (config.train.batch_size={batch_size} x "
      f"config.data.seq_len={d.seq_len} = {batch_size * d.seq_len}): use a "
      "larger corpus or a smaller batch or seq_len"
    )
  start, stop = _host_range(len(data["tokens"]), process_index, process_count)
  n = stop - start
  if n == 0:
    raise ValueError(
      f"split {d.train_split!r} of {d.name!r} has no windows for process "
      f"{process_index} of {process_count}"
    )
  shard = {k: v[start:stop] for k, v in data.items()}

  def permutation(epoch: int) -> np.ndarray:
    seq = np.random.SeedSequence([config.seed, process_index, epoch])
    return np.random.default_rng(seq).permutation(n)

  def batches():
    perms: dict[int, np.ndarray] = {}
    for step in itertools.count(start_step):
      k = np.arange(step * b, (step + 1) * b, dtype=np.int64)
      epochs, slots = k // n, k % n
      for e in np.unique(epochs):
        if int(e) not in perms:
          perms = {e2: p for e2, p in perms.items() if e2 >= e - 1}
          perms[int(e)] = permutation(int(e))
      idx = np.array([perms[int(e)][s] for e, s in zip(epochs, slots)])
      batch = {k: v[idx] for k, v in shard.items()}
      batch["index"] = (start + idx).astype(np.int32)
      yield batch

  return batches()


def _eval_batches(
  config,
  split: str,
  *,
  batch_size: int,
  process_index: int | None = None,
  process_count: int | None = None,
  max_examples: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
  """One pass over `split`'s windows in order, padded to whole batches.

  Every host yields the same number of batches; padding windows are all
  [PAD] (is_pad True) with valid=False.
  """
  if batch_size < 1:
    raise ValueError(f"batch_size={batch_size} must be >= 1")
  process_index, process_count = _process(process_index, process_count)
  data = windows(config, split)
  total = len(data["tokens"])
  if max_examples > 0:
    total = min(total, max_examples)
  start, stop = _host_range(total, process_index, process_count)
  num_batches = math.ceil(math.ceil(total / process_count) / batch_size)
  _, specials = get_tokenizer(config)
  seq_len = config.data.seq_len

  def batches():
    for i in range(num_batches):
      lo = min(start + i * batch_size, stop)
      hi = min(lo + batch_size, stop)
      pad = batch_size - (hi - lo)
      yield {
        "tokens": np.concatenate(
          [
            data["tokens"][lo:hi],
            np.full((pad, seq_len), specials.pad, np.int32),
          ]
        ),
        "is_pad": np.concatenate(
          [data["is_pad"][lo:hi], np.ones((pad, seq_len), bool)]
        ),
        "label": np.concatenate(
          [data["label"][lo:hi], np.full((pad,), -1, np.int32)]
        ),
        "valid": np.arange(batch_size) < hi - lo,
      }

  return batches()


def _spec(batch_size: int, seq_len: int, last: str) -> dict[str, Any]:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  b, l = batch_size, seq_len
  return {
    "tokens": jax.ShapeDtypeStruct((b, l), jnp.int32),
    "is_pad": jax.ShapeDtypeStruct((b, l), jnp.bool_),
    "label": jax.ShapeDtypeStruct((b,), jnp.int32),
    last: jax.ShapeDtypeStruct(
      (b,), jnp.int32 if last == "index" else jnp.bool_
    ),
  }


def _batch_spec(config) -> dict[str, Any]:
  d = config.data
  spec = _spec(config.train.batch_size, d.seq_len, "index")
  if text_pairs.is_pair_source(d):
    parts = ("positive_", "negative_") if d.hard_negatives else ("positive_",)
    for prefix in parts:
      spec[prefix + "tokens"] = spec["tokens"]
      spec[prefix + "is_pad"] = spec["is_pad"]
  return spec


def _eval_spec(config, batch_size: int) -> dict[str, Any]:
  return _spec(batch_size, config.data.seq_len, "valid")


def _size_hint(config) -> str:
  b, l = config.train.batch_size, config.data.seq_len
  return (
    f"config.data.seq_len={l} (a global batch is config.train.batch_size="
    f"{b} x {l} = {b * l} tokens)"
  )


def _smoke(config, image_size: int | None) -> None:
  del image_size
  config.data.seq_len = min(config.data.seq_len, 32)
  if not config.data.tokenizer_path:
    config.data.vocab_size = min(config.data.vocab_size, 1024)


KIND = base.DataKind(
  name="tokens",
  config=_config,
  validate=_validate,
  info=_info,
  train_batches=_train_batches,
  eval_batches=_eval_batches,
  batch_spec=_batch_spec,
  eval_spec=_eval_spec,
  size_hint=_size_hint,
  smoke=_smoke,
)
