"""Where text comes from: `config.data.name` -> the documents of a split.

Four kinds of source, each giving `text_corpus.Document`s (id, paragraphs,
label; label -1 where the source has none):
  - "embedded_text": `jaxssl.data.text_corpus.load(split)` (no download).
  - "text_folder": `config.data.data_dir`, a folder of `.txt` files, one
    document per file (UTF-8; paragraphs at blank lines). Two layouts:
      * split folders: `<data_dir>/<split>/<class>/**/*.txt` (labels from
        the class sub-folders, sorted names over both splits) or
        `<data_dir>/<split>/*.txt` (no sub-folders: no labels);
      * no split folders (neither `train_split` nor `eval_split` exists):
        the whole folder, split by document: a file goes to the eval split
        when the SHA-256 of its relative path ranks in the first
        `FOLDER_TEST_FRACTION` of the files' (stable as files come and go),
        the other files to the train split. Class sub-folders as above, e.g.
        `/usr/share/doc/python3.11/html/_sources` (`apt-get install
        python3.11-doc`) with library/, howto/, tutorial/, ... as labels.
    With class folders, `.txt` files directly beside them are not read.
  - "wordnet": WordNet's `data.{noun,verb,adj,adv}` files in
    `config.data.data_dir` (`apt-get install wordnet-base`:
    /usr/share/wordnet), one document per synset: its gloss (definition and
    quoted examples), labelled with its lexicographer file, one of the 45
    topics in `WORDNET_TOPICS` (noun.animal, verb.motion, ...). Split by
    document like a folder without split folders (ranked by SHA-256 of
    "<pos>/<offset>").
  - "text_pairs" and "wordnet_pairs": sentence pairs for supervised SimCSE
    (`jaxssl.data.text_pairs`). Their documents, the text the tokenizer and
    the evaluation protocols read, are a pairs file's rows (each row's
    sentences as paragraphs, no labels) and the "wordnet" source's glosses.
  - any other name: a TFDS text dataset prepared in `config.data.data_dir`
    (lm1b, imdb_reviews, ag_news_subset, ...), one document per example:
    `config.data.text_key` is its text feature, `config.data.label_key` its
    ClassLabel ("" for none). Splits may be TFDS slices ("train[:10%]");
    the split is read into memory.

Results are cached per process. Only this module reads text files; no
TensorFlow is imported unless a TFDS source is used.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from typing import Any

from jaxssl.data import text_corpus

Document = text_corpus.Document
EMBEDDED = text_corpus.NAME
TEXT_FOLDER = "text_folder"
WORDNET = "wordnet"
# Sources of sentence pairs (jaxssl.data.text_pairs).
PAIRS_FILE = "text_pairs"
WORDNET_PAIRS = "wordnet_pairs"
FOLDER_TEST_FRACTION = 0.1

# WordNet's lexicographer files (lexnames(5WN)): field 2 of a data line.
WORDNET_TOPICS = (
  "adj.all",
  "adj.pert",
  "adv.all",
  "noun.Tops",
  "noun.act",
  "noun.animal",
  "noun.artifact",
  "noun.attribute",
  "noun.body",
  "noun.cognition",
  "noun.communication",
  "noun.event",
  "noun.feeling",
  "noun.food",
  "noun.group",
  "noun.location",
  "noun.motive",
  "noun.object",
  "noun.person",
  "noun.phenomenon",
  "noun.plant",
  "noun.possession",
  "noun.process",
  "noun.quantity",
  "noun.relation",
  "noun.shape",
  "noun.state",
  "noun.substance",
  "noun.time",
  "verb.body",
  "verb.change",
  "verb.cognition",
  "verb.communication",
  "verb.competition",
  "verb.consumption",
  "verb.contact",
  "verb.creation",
  "verb.emotion",
  "verb.motion",
  "verb.perception",
  "verb.possession",
  "verb.social",
  "verb.stative",
  "verb.weather",
  "adj.ppl",
)
_WORDNET_POS = ("noun", "verb", "adj", "adv")

_CACHE: dict[tuple, Any] = {}


def clear_cache() -> None:
  """Forgets loaded documents (tests that swap data sources call this)."""
  _CACHE.clear()


def _cached(key: tuple, fn):
  if key not in _CACHE:
    _CACHE[key] = fn()
  return _CACHE[key]


def paragraphs(text: str) -> tuple[str, ...]:
  """Blank-line separated paragraphs, whitespace collapsed, empty dropped."""
  out = []
  for block in text.replace("\r\n", "\n").split("\n\n"):
    paragraph = " ".join(block.split())
    if paragraph:
      out.append(paragraph)
  return tuple(out)


# text_folder ------------------------------------------------------------------


def read_text(path: str) -> str:
  """A UTF-8 file's text; a one-line ValueError naming it if not UTF-8."""
  with open(path, "rb") as f:
    raw = f.read()
  try:
    return raw.decode("utf-8")
  except UnicodeDecodeError as e:
    raise ValueError(
      f"{path}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset "
      f"{e.start}); text_folder reads UTF-8 .txt files"
    ) from None


def _txt_files(folder: pathlib.Path, recursive: bool) -> list[pathlib.Path]:
  pattern = "**/*.txt" if recursive else "*.txt"
  return sorted(p for p in folder.glob(pattern) if p.is_file())


def _class_dirs(folder: pathlib.Path) -> list[str]:
  return sorted(p.name for p in folder.iterdir() if p.is_dir())


def _folder_files(data_config, split: str) -> list[tuple[str, str, str]]:
  """(relative path, absolute path, class name or "") of a split's files."""
  root = pathlib.Path(data_config.data_dir or "")
  if not data_config.data_dir or not root.is_dir():
    raise ValueError(
      f"config.data.name={TEXT_FOLDER!r} needs config.data.data_dir to be a "
      f"folder of .txt files; got data_dir={data_config.data_dir!r}"
    )
  splits = (data_config.train_split, data_config.eval_split)
  has_splits = any((root / s).is_dir() for s in splits)
  if has_splits:
    folder = root / split
    if not folder.is_dir():
      raise ValueError(
        f"config.data.data_dir={str(root)!r} has no folder {split!r} for "
        f"that split (it has {_class_dirs(root)})"
      )
    top = folder
  else:
    top = root
  classes = _class_dirs(top)
  files = []
  if classes:
    for name in classes:
      for path in _txt_files(top / name, recursive=True):
        files.append((str(path.relative_to(top)), str(path), name))
  else:
    files = [
      (str(p.relative_to(top)), str(p), "")
      for p in _txt_files(top, recursive=False)
    ]
  if not has_splits:
    test = test_ids([f[0] for f in files])
    want_test = split == data_config.eval_split
    files = [f for f in files if (f[0] in test) == want_test]
  if not files:
    raise ValueError(
      f"config.data.data_dir={str(root)!r}: no .txt files for split "
      f"{split!r} (looked in {str(top)!r})"
    )
  return files


def _folder_classes(data_config) -> list[str]:
  names = set()
  for split in (data_config.train_split, data_config.eval_split):
    names |= {c for _, _, c in _folder_files(data_config, split) if c}
  return sorted(names)


def _folder_documents(data_config, split: str) -> list[Document]:
  classes = {c: i for i, c in enumerate(_folder_classes(data_config))}
  return [
    Document(rel, paragraphs(read_text(path)), classes.get(c, -1))
    for rel, path, c in _folder_files(data_config, split)
  ]


# wordnet ----------------------------------------------------------------------


def test_ids(ids: list[str]) -> set[str]:
  """The eval-split documents of a source without splits.

  The round(FOLDER_TEST_FRACTION * n) ids of least SHA-256: a document's
  split stays put as others come and go (but at the boundary).
  """
  n_test = round(FOLDER_TEST_FRACTION * len(ids))
  ranked = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
  return set(ranked[:n_test])


def parse_wordnet(path: str, pos: str) -> list[Document]:
  """The synsets of one WordNet `data.<pos>` file, in file order.

  A data line is `offset lex_filenum ss_type w_cnt word lex_id ... | gloss`
  (wndb(5WN)); the license header's lines start with spaces.

  Raises:
    ValueError: a line that does not parse (naming the file and line).
  """
  docs = []
  for number, line in enumerate(read_text(path).splitlines(), 1):
    if not line.strip() or line.startswith(" "):
      continue
    fields, bar, gloss = line.partition(" | ")
    head = fields.split()
    if (
      not bar
      or len(head) < 2
      or not head[1].isdigit()
      or not 0 <= int(head[1]) < len(WORDNET_TOPICS)
    ):
      raise ValueError(
        f"{path}:{number}: not a WordNet data line (offset lex_filenum ... "
        "| gloss)"
      )
    text = " ".join(gloss.split())
    if text:
      docs.append(Document(f"{pos}/{head[0]}", (text,), int(head[1])))
  return docs


def _wordnet_documents(data_config, split: str) -> list[Document]:
  root = data_config.data_dir
  paths = [os.path.join(root or "", f"data.{pos}") for pos in _WORDNET_POS]
  if not root or not any(os.path.isfile(p) for p in paths):
    raise ValueError(
      f"config.data.name={data_config.name!r} needs config.data.data_dir to "
      "be the folder of WordNet's data.{noun,verb,adj,adv} files (apt-get "
      f"install wordnet-base: /usr/share/wordnet); got data_dir={root!r}"
    )
  if split not in (data_config.train_split, data_config.eval_split):
    raise ValueError(
      f"dataset {data_config.name!r} has no split {split!r}; its splits are "
      "config.data.train_split and config.data.eval_split "
      f"({data_config.train_split!r}, {data_config.eval_split!r})"
    )

  def parse_all():
    return [
      doc
      for pos, path in zip(_WORDNET_POS, paths)
      if os.path.isfile(path)
      for doc in parse_wordnet(path, pos)
    ]

  docs = _cached((WORDNET, os.path.abspath(root)), parse_all)
  test = _cached(
    (WORDNET, os.path.abspath(root), "test"),
    lambda: test_ids([d.id for d in docs]),
  )
  want_test = split == data_config.eval_split
  return [d for d in docs if (d.id in test) == want_test]


# TFDS -------------------------------------------------------------------------


def _tfds_builder(data_config):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  name, data_dir = data_config.name, data_config.data_dir or None
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise ValueError(
      f"config.data.name={name!r} is not {EMBEDDED!r}, {TEXT_FOLDER!r}, "
      f"{WORDNET!r}, {PAIRS_FILE!r}, {WORDNET_PAIRS!r} or a TFDS dataset "
      "name (see tfds.list_builders())"
    ) from None
  if not builder.is_prepared():
    root = data_dir or os.path.dirname(os.path.dirname(builder.data_dir))
    raise FileNotFoundError(
      f"TFDS dataset {name!r} is not prepared in data_dir={root!r}; "
      f"download it with `tfds build {name} --data_dir {root}`, or set "
      "config.data.data_dir"
    )
  features = builder.info.features
  keys = [("text_key", data_config.text_key)]
  if data_config.label_key:
    keys.append(("label_key", data_config.label_key))
  for key, value in keys:
    if value not in features:
      raise ValueError(
        f"config.data.{key}={value!r} is not a feature of {name!r}: "
        f"{sorted(features.keys())}"
      )
  if data_config.label_key and not getattr(
    features[data_config.label_key], "num_classes", None
  ):
    raise ValueError(
      f"config.data.label_key={data_config.label_key!r} of {name!r} is not "
      "a ClassLabel feature (set label_key='' for no labels)"
    )
  return builder


def _tfds_documents(data_config, split: str) -> list[Document]:
  builder = _tfds_builder(data_config)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  try:
    ds = builder.as_dataset(
      split=split, read_config=tfds.ReadConfig(try_autocache=False)
    )
  except (ValueError, KeyError) as e:
    raise ValueError(
      f"dataset {data_config.name!r} has no split {split!r} "
      f"({str(e).splitlines()[0] if str(e) else e!r}); available splits: "
      f"{sorted(builder.info.splits)}"
    ) from None
  text_key, label_key = data_config.text_key, data_config.label_key
  docs = []
  for i, ex in enumerate(tfds.as_numpy(ds)):
    raw = ex[text_key]
    try:
      text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    except UnicodeDecodeError:
      raise ValueError(
        f"{data_config.name}/{split} example {i}: feature "
        f"config.data.text_key={text_key!r} is not UTF-8 text"
      ) from None
    label = int(ex[label_key]) if label_key else -1
    docs.append(Document(f"{split}/{i}", paragraphs(text), label))
  return docs


def _tfds_num_classes(data_config) -> int:
  if not data_config.label_key:
    return 0
  builder = _tfds_builder(data_config)
  return int(builder.info.features[data_config.label_key].num_classes)


# Public -----------------------------------------------------------------------


def source_key(data_config) -> tuple:
  """What identifies the documents of `config.data` (for caches)."""
  if data_config.name == EMBEDDED:
    return (EMBEDDED,)
  if data_config.name in (WORDNET, WORDNET_PAIRS):
    return (
      WORDNET,
      os.path.abspath(data_config.data_dir or ""),
      data_config.train_split,
      data_config.eval_split,
    )
  if data_config.name == TEXT_FOLDER:
    return (
      TEXT_FOLDER,
      os.path.abspath(data_config.data_dir or ""),
      data_config.train_split,
      data_config.eval_split,
    )
  if data_config.name == PAIRS_FILE:
    return (
      PAIRS_FILE,
      os.path.abspath(data_config.data_dir or ""),
      data_config.train_split,
      data_config.eval_split,
      bool(data_config.hard_negatives),
    )
  return (
    "tfds",
    data_config.name,
    data_config.data_dir,
    data_config.text_key,
    data_config.label_key,
  )


def documents(data_config, split: str) -> list[Document]:
  """The documents of `split` of `config.data`, in a fixed order (cached).

  Raises:
    ValueError: unknown split, missing folder, non-UTF-8 file, bad keys.
    FileNotFoundError: a TFDS dataset that is not prepared on disk.
  """
  name = data_config.name
  if name == EMBEDDED:

    def load():
      if split not in ("train", "test"):
        raise ValueError(
          f"dataset {EMBEDDED!r} has no split {split!r}; available splits: "
          "['test', 'train']"
        )
      return text_corpus.load(split)

  elif name == TEXT_FOLDER:
    load = lambda: _folder_documents(data_config, split)
  elif name in (WORDNET, WORDNET_PAIRS):
    load = lambda: _wordnet_documents(data_config, split)
  elif name == PAIRS_FILE:
    from jaxssl.data import text_pairs  # pylint: disable=g-import-not-at-top

    load = lambda: text_pairs.documents(data_config, split)
  else:
    load = lambda: _tfds_documents(data_config, split)
  return _cached((*source_key(data_config), split), load)


def num_classes(data_config) -> int:
  """Label classes of `config.data`; 0 when the source has no labels."""
  if data_config.name == EMBEDDED:
    return 0
  if data_config.name == TEXT_FOLDER:
    return len(_folder_classes(data_config))
  if data_config.name in (WORDNET, WORDNET_PAIRS):
    return len(WORDNET_TOPICS)
  if data_config.name == PAIRS_FILE:
    return 0
  return _tfds_num_classes(data_config)
