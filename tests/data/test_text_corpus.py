"""Tests for jaxssl.data.text_corpus: the embedded English corpus."""

import json
import os

import pytest

from jaxssl.data import text_corpus


@pytest.fixture(scope="module", name="cache_dir")
def _cache_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("text_cache"))


@pytest.fixture(scope="module", name="splits")
def _splits(cache_dir):
  return {
    s: text_corpus.load(s, cache_dir=cache_dir) for s in ("train", "test")
  }


def test_split_by_document_and_no_paragraph_in_both(splits):
  train, test = splits["train"], splits["test"]
  assert not {d.id for d in train} & {d.id for d in test}
  train_paragraphs = {p for d in train for p in d.paragraphs}
  test_paragraphs = {p for d in test for p in d.paragraphs}
  assert not train_paragraphs & test_paragraphs
  # Both sources reach the test split; about a tenth of the documents.
  for source in ("topics/", "modules/"):
    assert any(d.id.startswith(source) for d in test), source
  n = len(train) + len(test)
  assert 0.05 * n <= len(test) <= 0.15 * n


def test_every_module_is_read_and_the_text_is_english(splits):
  ids = {d.id for s in splits.values() for d in s}
  assert {f"modules/{m}" for m in text_corpus.MODULES} <= ids
  stats = text_corpus.stats(splits["train"])
  assert stats["words"] > 80_000 and stats["paragraphs"] > 3_000
  words = " ".join(p for d in splits["train"] for p in d.paragraphs).split()
  common = sum(w.lower() in ("the", "of", "a", "is", "to") for w in words)
  assert common > 0.05 * len(words)
  assert all(d.label == -1 for d in splits["test"])


def test_build_is_deterministic_and_cached_with_the_version(cache_dir, splits):
  path = os.path.join(
    cache_dir, f"{text_corpus.NAME}_{text_corpus.version()}.json"
  )
  assert os.path.isfile(path)
  with open(path, encoding="utf-8") as f:
    cached = json.load(f)
  # pylint: disable-next=protected-access
  assert text_corpus._build() == cached
  assert [d.id for d in splits["test"]] == [d["id"] for d in cached["test"]]
  assert text_corpus.version().startswith("v")


def test_unknown_split_is_one_line(cache_dir):
  with pytest.raises(ValueError, match="unknown split 'valid'"):
    text_corpus.load("valid", cache_dir=cache_dir)


def test_describe_counts_each_split(cache_dir, splits):
  text = text_corpus.describe(cache_dir=cache_dir, tokens=False)
  for split in ("train", "test"):
    s = text_corpus.stats(splits[split])
    assert f"{split}: {s['documents']} documents" in text
    assert f"{s['words']} words" in text
