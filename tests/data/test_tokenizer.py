"""Tests for jaxssl.data.tokenizer: training, specials, caching, loading."""

import os
import subprocess
import sys

import pytest

from jaxssl.data import text_corpus, tokenizer

VOCAB = 1024


@pytest.fixture(scope="module", name="texts")
def _texts(tmp_path_factory):
  folder = str(tmp_path_factory.mktemp("text_cache"))
  return [d.text for d in text_corpus.load("train", cache_dir=folder)]


@pytest.fixture(name="cache_env")
def _cache_env(tmp_path, monkeypatch):
  monkeypatch.setenv("JAXSSL_CACHE_DIR", str(tmp_path))
  monkeypatch.setattr(tokenizer, "_LOADED", {})
  return tmp_path


@pytest.mark.parametrize("kind", tokenizer.KINDS)
def test_training_is_deterministic(texts, kind):
  a = tokenizer.train(kind, VOCAB, texts)
  b = tokenizer.train(kind, VOCAB, texts)
  assert a.to_str() == b.to_str()
  assert a.get_vocab_size() == VOCAB


def test_training_is_deterministic_across_processes(texts, tmp_path):
  # Hash-map order changes between processes (it did for WordPieceTrainer).
  script = (
    "import sys; from jaxssl.data import text_corpus, tokenizer; "
    "texts = [d.text for d in "
    f"text_corpus.load('train', cache_dir={str(tmp_path)!r})]; "
    "sys.stdout.write(tokenizer.train('wordpiece', 512, texts).to_str())"
  )
  runs = [
    subprocess.run(
      [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    for _ in range(2)
  ]
  assert runs[0] == runs[1] == tokenizer.train("wordpiece", 512, texts).to_str()


def test_wordpiece_specials_and_round_trip(texts):
  tok = tokenizer.train("wordpiece", VOCAB, texts)
  s = tokenizer.specials(tok, "wordpiece")
  assert (s.pad, s.unk, s.cls, s.sep, s.mask) == (0, 1, 2, 3, 4)
  assert s.ids() == (0, 1, 2, 3, 4)
  text = "Return the number of items in the sequence."
  enc = tok.encode(text, add_special_tokens=False)
  assert s.unk not in enc.ids
  assert any(t.startswith("##") for t in tok.get_vocab())
  assert tok.decode(enc.ids) == text.lower()


def test_bpe_specials_and_byte_exact_round_trip(texts):
  tok = tokenizer.train("bpe", VOCAB, texts)
  s = tokenizer.specials(tok, "bpe")
  assert s.eot == s.pad == tok.token_to_id(tokenizer.END_OF_TEXT) == 0
  text = "Return  the number\n\tof ítems — 😀 in a sequence."
  ids = tok.encode(text).ids
  assert s.eot not in ids
  assert tok.decode(ids) == text


def test_cache_is_reused(texts, cache_env):
  tok = tokenizer.cached("corpus_v0", "bpe", 300, lambda: texts[:20])
  path = tokenizer.cache_path("corpus_v0", "bpe", 300)
  assert path.startswith(str(cache_env)) and os.path.isfile(path)
  tokenizer._LOADED.clear()  # pylint: disable=protected-access

  def no_training():
    raise AssertionError("trained again instead of reading the cache")

  again = tokenizer.cached("corpus_v0", "bpe", 300, no_training)
  assert again.to_str() == tok.to_str()
  # Another vocab size or corpus key is another tokenizer.
  other = tokenizer.cached("corpus_v0", "bpe", 280, lambda: texts[:20])
  assert other.get_vocab_size() == 280


def test_corpus_key_follows_the_text():
  assert tokenizer.corpus_key(["a", "b"]) == tokenizer.corpus_key(["a", "b"])
  assert tokenizer.corpus_key(["a", "b"]) != tokenizer.corpus_key(["ab"])


def test_from_file_errors_name_the_key(texts, tmp_path):
  missing = str(tmp_path / "nope.json")
  with pytest.raises(ValueError, match=r"config.data.tokenizer_path=.*no such"):
    tokenizer.from_file(missing)
  bad = tmp_path / "bad.json"
  bad.write_text("{not json")
  with pytest.raises(ValueError, match=r"tokenizer_path=.*not a tokenizer"):
    tokenizer.from_file(str(bad))
  good = tmp_path / "bpe.json"
  good.write_text(tokenizer.train("bpe", 300, texts[:20]).to_str())
  tok = tokenizer.from_file(str(good))
  with pytest.raises(ValueError, match=r"config.data.tokenizer_path.*\[CLS\]"):
    tokenizer.specials(tok, "wordpiece")
