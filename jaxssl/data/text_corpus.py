"""Embedded text corpus: real English that ships with every CPython.

`load("train")` / `load("test")` return documents of a text corpus that
needs no download and no extra install: it is built deterministically at
first use (well under a second) from text inside the Python installation,
then cached as one JSON file in `jaxssl.data.embedded.cache_dir()`.

What is in it:
  - `pydoc_data.topics.topics`: the language reference topics that
    `help("if")` shows (~80 topics, ~65k words); one document per topic.
  - The docstrings of the standard-library modules in `MODULES` (a fixed
    list of pure-Python modules present in every CPython 3.11+), read from
    their source files with `ast`, never imported: the module docstring,
    then every top-level class and function and every method of those
    classes, in source order; one document per module. Reading the source
    statically is the platform guard: definitions under an `if` or `try`
    at the top level (where modules choose a platform's implementation) are
    skipped, and C accelerators play no part, so the text is the same on
    Linux, macOS and Windows.

How it is made:
  1. Each text is cleaned (`inspect.cleandoc`) and cut into paragraphs at
     blank lines; whitespace inside a paragraph is collapsed to single
     spaces, and paragraphs of fewer than `_MIN_WORDS` words (headings,
     lone parameter names) are dropped.
  2. Paragraphs are de-duplicated over the whole corpus (the first
     occurrence, in the fixed order topics then modules, is kept), so no
     paragraph can be in both splits.
  3. The split is by document: within each source (topics, modules) the
     documents ranked by SHA-256 of their id, the first `_TEST_FRACTION`
     go to test. A document's split does not depend on the others.

The text is a function of the Python version (the documentation changes
between releases), so the cache file name holds both `_VERSION` (bump it on
any change to the recipe or the module list) and the Python minor version.
This module imports only the standard library.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import json
import os
import re
import sys
import sysconfig
import tempfile
import tokenize

NAME = "embedded_text"

# Bump on any change to the recipe or the module list.
_VERSION = "v1"
_SPLITS = ("train", "test")
_TEST_FRACTION = 0.1
_MIN_WORDS = 3

# Pure-Python standard-library modules with long docstrings, present in
# every CPython 3.11+ on every platform (no Windows- or POSIX-only module,
# none removed by PEP 594 before 3.13).
MODULES = (
  "abc",
  "argparse",
  "ast",
  "base64",
  "calendar",
  "cmd",
  "codecs",
  "collections",
  "colorsys",
  "configparser",
  "contextlib",
  "copy",
  "csv",
  "dataclasses",
  "difflib",
  "doctest",
  "email.message",
  "email.utils",
  "email.headerregistry",
  "email.policy",
  "enum",
  "filecmp",
  "fileinput",
  "fnmatch",
  "fractions",
  "ftplib",
  "functools",
  "getopt",
  "gettext",
  "glob",
  "gzip",
  "heapq",
  "hmac",
  "html.parser",
  "http.client",
  "http.cookiejar",
  "http.server",
  "imaplib",
  "inspect",
  "ipaddress",
  "json",
  "json.decoder",
  "json.encoder",
  "logging",
  "logging.handlers",
  "mailbox",
  "numbers",
  "operator",
  "optparse",
  "pathlib",
  "pickle",
  "pprint",
  "queue",
  "quopri",
  "random",
  "re",
  "sched",
  "secrets",
  "shlex",
  "smtplib",
  "statistics",
  "string",
  "tarfile",
  "textwrap",
  "threading",
  "timeit",
  "tokenize",
  "trace",
  "traceback",
  "types",
  "typing",
  "unittest.case",
  "unittest.mock",
  "urllib.parse",
  "urllib.request",
  "warnings",
  "wave",
  "weakref",
  "zipfile",
)


@dataclasses.dataclass(frozen=True)
class Document:
  """One document of a text corpus.

  Attributes:
    id: a stable name ("topics/<topic>", "modules/<module>", a file path).
    paragraphs: its paragraphs, in order.
    label: class index, -1 when the corpus has no labels.
  """

  id: str
  paragraphs: tuple[str, ...]
  label: int = -1

  @property
  def text(self) -> str:
    return "\n\n".join(self.paragraphs)


def load(split: str, *, cache_dir: str | None = None) -> list[Document]:
  """The documents of one split, building and caching the corpus at first use.

  Args:
    split: "train" or "test".
    cache_dir: folder of the cache file; default
      `jaxssl.data.embedded.cache_dir()`.

  Returns:
    The split's documents (unlabelled, label -1), in a fixed order.

  Raises:
    ValueError: if `split` is not "train" or "test".
  """
  if split not in _SPLITS:
    raise ValueError(
      f"{NAME}: unknown split {split!r}; expected one of {list(_SPLITS)}"
    )
  path = _cache_path(cache_dir)
  data = _read_cache(path)
  if data is None:
    data = _build()
    _write_atomically(path, data)
  return [Document(d["id"], tuple(d["paragraphs"])) for d in data[split]]


def version() -> str:
  """The corpus version, Python minor version included (`v1-py3.11`)."""
  return f"{_VERSION}-py{sys.version_info[0]}.{sys.version_info[1]}"


def stats(documents: list[Document]) -> dict[str, int]:
  """{"documents", "paragraphs", "words"} of `documents`."""
  return {
    "documents": len(documents),
    "paragraphs": sum(len(d.paragraphs) for d in documents),
    "words": sum(len(p.split()) for d in documents for p in d.paragraphs),
  }


def describe(*, cache_dir: str | None = None, tokens: bool = True) -> str:
  """A few lines on the corpus and its sizes per split.

  Args:
    cache_dir: passed to `load`.
    tokens: also count tokens per split with the default tokenizers
      (trains them at first use, ~seconds; cached).
  """
  lines = [
    f"{NAME} ({version()}): real English from this Python's "
    f"pydoc_data.topics and the docstrings of {len(MODULES)} standard-"
    "library modules (read with ast), split by document "
    f"{1 - _TEST_FRACTION:.0%}/{_TEST_FRACTION:.0%}; no paragraph in both."
  ]
  for split in _SPLITS:
    docs = load(split, cache_dir=cache_dir)
    s = stats(docs)
    line = (
      f"  {split}: {s['documents']} documents, {s['paragraphs']} "
      f"paragraphs, {s['words']} words"
    )
    if tokens:
      from jaxssl.data import tokenizer  # pylint: disable=g-import-not-at-top

      counts = []
      for kind in tokenizer.KINDS:
        tok = tokenizer.embedded(kind, tokenizer.DEFAULT_VOCAB_SIZE)
        n = sum(len(e.ids) for e in tok.encode_batch([d.text for d in docs]))
        counts.append(f"{n} {kind} tokens")
      line += ", " + ", ".join(counts)
    lines.append(line)
  if tokens:
    lines.append(
      "  (tokenizers trained on the train split, vocab "
      f"{tokenizer.DEFAULT_VOCAB_SIZE})"
    )
  return "\n".join(lines)


# Building ---------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
  out = []
  for block in re.split(r"\n\s*\n", inspect.cleandoc(text)):
    paragraph = " ".join(block.split())
    if len(paragraph.split()) >= _MIN_WORDS:
      out.append(paragraph)
  return out


def _module_texts(module: str) -> list[str]:
  """Docstrings of `module`'s source, in order (see the module docstring)."""
  # The file in the standard library's folder (not `find_spec`, which gives
  # "frozen" for some modules and may find a shadowing file on sys.path).
  base = os.path.join(sysconfig.get_paths()["stdlib"], *module.split("."))
  path = next(
    (
      p
      for p in (base + ".py", os.path.join(base, "__init__.py"))
      if os.path.isfile(p)
    ),
    None,
  )
  if path is None:
    # ValueError: the entry point prints it as one line, not a traceback.
    raise ValueError(
      f"{NAME}: the source of standard-library module {module!r} is not in "
      f"{sysconfig.get_paths()['stdlib']} (a Python installed without its "
      ".py files?); use config.data.name='text_folder' instead"
    )
  with tokenize.open(path) as f:
    tree = ast.parse(f.read())
  texts = [ast.get_docstring(tree, clean=False) or ""]
  defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
  for node in tree.body:
    if isinstance(node, defs) and not node.name.startswith("_"):
      texts.append(ast.get_docstring(node, clean=False) or "")
      if isinstance(node, ast.ClassDef):
        for sub in node.body:
          if isinstance(sub, defs) and not sub.name.startswith("_"):
            texts.append(ast.get_docstring(sub, clean=False) or "")
  return [t for t in texts if t]


def _raw_documents() -> list[tuple[str, str, list[str]]]:
  """(source, id, paragraphs) of every document, in the fixed order."""
  from pydoc_data import topics  # pylint: disable=g-import-not-at-top

  docs = []
  for name in sorted(topics.topics):
    docs.append(("topics", f"topics/{name}", _paragraphs(topics.topics[name])))
  for module in MODULES:
    paragraphs = [p for t in _module_texts(module) for p in _paragraphs(t)]
    docs.append(("modules", f"modules/{module}", paragraphs))
  return docs


def _rank(doc_id: str) -> str:
  return hashlib.sha256(f"{NAME}/{doc_id}".encode()).hexdigest()


def _build() -> dict[str, list[dict]]:
  seen: set[str] = set()
  by_source: dict[str, list[dict]] = {}
  for source, doc_id, paragraphs in _raw_documents():
    kept = []
    for p in paragraphs:
      if p not in seen:
        seen.add(p)
        kept.append(p)
    if kept:
      by_source.setdefault(source, []).append(
        {"id": doc_id, "paragraphs": kept}
      )
  out = {"train": [], "test": []}
  for docs in by_source.values():
    ranked = sorted(docs, key=lambda d: _rank(d["id"]))
    n_test = max(1, round(_TEST_FRACTION * len(docs)))
    test = {d["id"] for d in ranked[:n_test]}
    for d in docs:  # keep the fixed order within each split
      out["test" if d["id"] in test else "train"].append(d)
  return out


# Cache ------------------------------------------------------------------------


def _cache_dir(folder: str | None) -> str:
  if folder:
    return folder
  from jaxssl.data import embedded  # pylint: disable=g-import-not-at-top

  return embedded.cache_dir()


def _cache_path(folder: str | None) -> str:
  return os.path.join(_cache_dir(folder), f"{NAME}_{version()}.json")


def _read_cache(path: str) -> dict | None:
  try:
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
    if all(isinstance(data.get(s), list) for s in _SPLITS):
      return data
  except (OSError, ValueError, AttributeError):
    pass
  return None


def write_atomically(path: str, text: str) -> None:
  """Writes `text` to `path` through a temporary file and `os.replace`.

  Readers (and other processes building at the same time) never see a
  partial file.
  """
  folder = os.path.dirname(path)
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
  try:
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      f.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a cache may be shared.
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def _write_atomically(path: str, data: dict) -> None:
  write_atomically(path, json.dumps(data, ensure_ascii=False, indent=0))
