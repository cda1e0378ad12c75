"""Sentence pairs and triples: (anchor, positive[, hard negative]) sources.

Supervised SimCSE trains on pairs of sentences that mean the same
(NLI entailments), each with an optional hard negative (a contradiction).
Two sources (`config.data.name`), read by the `tokens` kind, which packs
every sentence into its own window (`pack`) and serves training batches
of pairs:

  - "text_pairs": a file of rows with columns `sent0` (anchor), `sent1`
    (positive) and `hard_neg` (hard negative), as the SimCSE repository's
    `nli_for_simcse.csv`: CSV with that header (`.csv`), tab-separated
    with that header and no quoting (`.tsv`), or one JSON object per line
    (`.jsonl`), UTF-8. `config.data.data_dir` is either one such file, split
    by anchor (the eval split holds the `text_sources.FOLDER_TEST_FRACTION`
    of the distinct anchors of least SHA-256, so no anchor is in both
    splits: SNLI repeats each premise with several hypotheses), or a folder
    holding `<train_split>.<ext>` and `<eval_split>.<ext>`. No labels.
  - "wordnet_pairs": WordNet (`config.data.data_dir`, as the "wordnet"
    source: apt-get install wordnet-base, /usr/share/wordnet), no download.
    A synset's gloss is `definition; "example"; "example"...`: each
    (definition, example) is a pair (48,339 pairs from 32,923 synsets in
    WordNet 3.0), labelled with the synset's topic (the 45 lexicographer
    files); the hard negative is the definition of another synset of the
    same split from a different topic, drawn once with a fixed seed (a
    fixed data set, as a file would be). Splits are the "wordnet" source's
    (by synset): no eval gloss is trained on.

`config.data.hard_negatives` (default True) keeps the third sentence:
"text_pairs" then needs a `hard_neg` column; False gives pairs only.

The evaluation protocols see documents (`documents`), not pairs: for
"wordnet_pairs" the "wordnet" source's labelled glosses (so the sentence
probes are the ones unsupervised SimCSE is scored on); for "text_pairs" one
document per row whose paragraphs are the row's sentences (no labels: the
label-free retrieval only). The tokenizer is trained on the train split's
documents, as for every text source.

Only this module and `text_sources` read text files; no TensorFlow.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
from typing import Any

import numpy as np

from jaxssl.data import text_corpus, text_sources, tokenizer

Document = text_corpus.Document
PAIRS_FILE = text_sources.PAIRS_FILE
WORDNET_PAIRS = text_sources.WORDNET_PAIRS
SOURCES = (PAIRS_FILE, WORDNET_PAIRS)
COLUMNS = ("sent0", "sent1", "hard_neg")
EXTENSIONS = (".csv", ".tsv", ".jsonl")
_NEGATIVE_SEED = 0  # WordNet's hard negatives: a fixed draw
_QUOTED = re.compile(r'"([^"]*)"')

_CACHE: dict[tuple, Any] = {}


def clear_cache() -> None:
  """Forgets loaded pairs (tests that swap data sources call this)."""
  _CACHE.clear()


@dataclasses.dataclass(frozen=True)
class Pairs:
  """The pairs of one split, in a fixed order.

  Attributes:
    anchor: the anchor sentences (`sent0`; WordNet: a definition).
    positive: row i's positive (`sent1`; WordNet: an example sentence).
    negative: row i's hard negative, or None without hard negatives.
    label: int32 [n], the anchor's class (-1 without labels).
  """

  anchor: tuple[str, ...]
  positive: tuple[str, ...]
  negative: tuple[str, ...] | None
  label: np.ndarray


def is_pair_source(data_config) -> bool:
  """Whether `config.data.name` is a source of pairs."""
  return data_config.name in SOURCES


# text_pairs: a file of rows ---------------------------------------------------


def _row_error(path: str, line: int, why: str) -> ValueError:
  return ValueError(f"{path}:{line}: {why}")


def read_rows(path: str, *, hard_negatives: bool) -> list[tuple[int, tuple]]:
  """(line number, (sent0, sent1[, hard_neg])) of a pairs file, in order.

  Whitespace inside a sentence is collapsed.

  Raises:
    ValueError: naming the file (and line): not UTF-8, an unknown
      extension, a missing column, an empty or missing cell, bad JSON.
  """
  ext = os.path.splitext(path)[1].lower()
  if ext not in EXTENSIONS:
    raise ValueError(
      f"{path}: a pairs file ends in one of {EXTENSIONS} (CSV or TSV with a "
      "header, or JSON lines)"
    )
  text = text_sources.read_text(path)
  want = COLUMNS if hard_negatives else COLUMNS[:2]
  rows = []
  if ext == ".jsonl":
    for number, line in enumerate(text.splitlines(), 1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except json.JSONDecodeError as e:
        raise _row_error(path, number, f"not JSON ({e.msg})") from None
      if not isinstance(record, dict):
        raise _row_error(
          path, number, f"a JSON object with keys {want} expected"
        )
      rows.append((number, record))
  else:
    reader = csv.DictReader(
      io.StringIO(text, newline=""),
      delimiter="\t" if ext == ".tsv" else ",",
      quoting=csv.QUOTE_NONE if ext == ".tsv" else csv.QUOTE_MINIMAL,
    )
    header = reader.fieldnames or []
    missing = [c for c in want if c not in header]
    if missing:
      hint = (
        " (or set config.data.hard_negatives=False)"
        if missing == ["hard_neg"]
        else ""
      )
      raise ValueError(
        f"{path}: no column {missing[0]!r}{hint}; its header is {header}, "
        f"columns {want} needed"
      )
    for record in reader:
      rows.append((reader.line_num, record))
  out = []
  for number, record in rows:
    cells = []
    for column in want:
      value = record.get(column)
      if column == "hard_neg" and value is None and ext == ".jsonl":
        raise _row_error(
          path,
          number,
          "no 'hard_neg' (or set config.data.hard_negatives=False)",
        )
      if not isinstance(value, str) or not value.strip():
        raise _row_error(path, number, f"column {column!r} is empty or missing")
      cells.append(" ".join(value.split()))
    out.append((number, tuple(cells)))
  if not out:
    raise ValueError(f"{path}: no rows of pairs")
  return out


def _split_file(data_config, split: str) -> tuple[str, bool]:
  """(the file holding `split`, whether it holds both splits)."""
  root = data_config.data_dir
  splits = (data_config.train_split, data_config.eval_split)
  if split not in splits:
    raise ValueError(
      f"dataset {PAIRS_FILE!r} has no split {split!r}; its splits are "
      f"config.data.train_split and config.data.eval_split {splits}"
    )
  if root and os.path.isfile(root):
    return root, True
  if not root or not os.path.isdir(root):
    raise ValueError(
      f"config.data.name={PAIRS_FILE!r} needs config.data.data_dir to be a "
      f"pairs file ({', '.join(EXTENSIONS)}) or a folder of "
      f"<split>{{{','.join(EXTENSIONS)}}} files; got data_dir={root!r}"
    )
  found = [
    os.path.join(root, split + ext)
    for ext in EXTENSIONS
    if os.path.isfile(os.path.join(root, split + ext))
  ]
  if len(found) != 1:
    have = sorted(
      f for f in os.listdir(root) if os.path.splitext(f)[1] in EXTENSIONS
    )
    raise ValueError(
      f"config.data.data_dir={root!r} needs one file {split}"
      f"{{{','.join(EXTENSIONS)}}} for split {split!r}; it has {have}"
    )
  return found[0], False


def _file_rows(data_config, split: str) -> list[tuple[str, tuple]]:
  """(row id, sentences) of `split`'s rows of the pairs file(s)."""
  path, both = _split_file(data_config, split)
  rows = _cached(
    ("rows", os.path.abspath(path), bool(data_config.hard_negatives)),
    lambda: read_rows(path, hard_negatives=data_config.hard_negatives),
  )
  name = os.path.basename(path)
  rows = [(f"{name}:{number}", cells) for number, cells in rows]
  if not both:
    return rows
  test = _cached(
    ("test", os.path.abspath(path), bool(data_config.hard_negatives)),
    lambda: text_sources.test_ids(sorted({cells[0] for _, cells in rows})),
  )
  want_test = split == data_config.eval_split
  return [r for r in rows if (r[1][0] in test) == want_test]


# wordnet_pairs ----------------------------------------------------------------


def split_gloss(gloss: str) -> tuple[str, tuple[str, ...]]:
  """(definition, examples) of a WordNet gloss.

  The definition is the text before the first `; "` (a quote inside the
  definition, `as in "carrot and stick"`, stays in it); the examples are
  the quoted strings after it. A gloss without `; "` is all definition.
  """
  head, sep, tail = gloss.partition('; "')
  definition = head.strip().rstrip(";").strip()
  if not sep:
    return definition, ()
  quoted = _QUOTED.findall('"' + tail)
  return definition, tuple(e.strip() for e in quoted if e.strip())


def _wordnet_pairs(data_config, split: str, hard_negatives: bool) -> Pairs:
  docs = text_sources.documents(data_config, split)
  split_glosses = [split_gloss(d.text) for d in docs]
  labels = np.array([d.label for d in docs], np.int64)
  owner, anchor, positive = [], [], []
  for i, (definition, examples) in enumerate(split_glosses):
    if not definition:
      continue
    for example in examples:
      owner.append(i)
      anchor.append(definition)
      positive.append(example)
  if not owner:
    raise ValueError(
      f"config.data.data_dir={data_config.data_dir!r}: split {split!r} of "
      f"{WORDNET_PAIRS!r} has no gloss with a quoted example"
    )
  owner = np.array(owner, np.int64)
  negative = None
  if hard_negatives:
    has_def = np.array([bool(d) for d, _ in split_glosses])
    pool = np.flatnonzero(has_def)
    if len(np.unique(labels[pool])) < 2:
      raise ValueError(
        f"config.data.hard_negatives=True: split {split!r} of "
        f"{WORDNET_PAIRS!r} has one topic only, so no negative of another "
        "topic (set config.data.hard_negatives=False)"
      )
    rng = np.random.default_rng(_NEGATIVE_SEED)
    pick = pool[rng.integers(len(pool), size=len(owner))]
    clash = labels[pick] == labels[owner]
    while clash.any():
      pick[clash] = pool[rng.integers(len(pool), size=int(clash.sum()))]
      clash = labels[pick] == labels[owner]
    negative = tuple(split_glosses[j][0] for j in pick)
  return Pairs(
    tuple(anchor), tuple(positive), negative, labels[owner].astype(np.int32)
  )


# Public -----------------------------------------------------------------------


def _cached(key: tuple, fn):
  if key not in _CACHE:
    _CACHE[key] = fn()
  return _CACHE[key]


def pairs(data_config, split: str) -> Pairs:
  """The pairs of `split` of a pair source (cached per process).

  Raises:
    ValueError: not a pair source, a missing file or folder, a bad row.
  """
  name, hard = data_config.name, bool(data_config.hard_negatives)
  if name == WORDNET_PAIRS:
    key = (*text_sources.source_key(data_config), split, hard)
    return _cached(key, lambda: _wordnet_pairs(data_config, split, hard))
  if name != PAIRS_FILE:
    raise ValueError(
      f"config.data.name={name!r} is not a source of pairs {SOURCES}"
    )
  rows = _file_rows(data_config, split)
  if not rows:
    raise ValueError(
      f"config.data.data_dir={data_config.data_dir!r}: no rows for split "
      f"{split!r}"
    )
  return Pairs(
    tuple(cells[0] for _, cells in rows),
    tuple(cells[1] for _, cells in rows),
    tuple(cells[2] for _, cells in rows) if hard else None,
    np.full((len(rows),), -1, np.int32),
  )


def documents(data_config, split: str) -> list[Document]:
  """ "text_pairs": one document per row, its sentences as paragraphs (no
  label). ("wordnet_pairs" documents are the "wordnet" source's.)"""
  return [
    Document(row_id, cells, -1)
    for row_id, cells in _file_rows(data_config, split)
  ]


def pack(p: Pairs, tok, specials, kind: str, seq_len: int) -> dict:
  """The windows of pairs `p`.

  Returns:
    {"tokens", "is_pad" (the anchors), "positive_tokens",
    "positive_is_pad", and with hard negatives "negative_tokens",
    "negative_is_pad"}: int32 / bool [n, l]; "label": int32 [n].
  """
  out = {}
  parts = [("", p.anchor), ("positive_", p.positive)]
  if p.negative is not None:
    parts.append(("negative_", p.negative))
  for prefix, texts in parts:
    windows = tokenizer.encode_texts(
      tok, specials, texts, kind=kind, seq_len=seq_len
    )
    out[prefix + "tokens"] = windows["tokens"]
    out[prefix + "is_pad"] = windows["is_pad"]
  out["label"] = np.asarray(p.label, np.int32)
  return out
