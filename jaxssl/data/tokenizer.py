"""Tokenizers for the `tokens` data kind (Hugging Face `tokenizers`).

Two kinds, named by `config.data.tokenizer`:
  wordpiece  BERT-style: lower-cased, BERT pre-tokenisation, WordPiece
             with the special tokens [PAD] [UNK] [CLS] [SEP] [MASK]
             (ids 0-4, in that order), "##" continuations.
  bpe        GPT-2-style byte-level BPE (any UTF-8 text, no unknown token)
             with one special token, <|endoftext|> (id 0), which ends each
             document and also fills padded positions.

`get(data_config, train_texts)` trains one on the train split at first
use and caches it as `tokenizer.json` under
`jaxssl.data.embedded.cache_dir()/tokenizers/`, keyed by (corpus, kind,
vocab size): the corpus is the embedded text's version or, for other
sources, a SHA-256 of the train split's text, so a changed folder gets a
new tokenizer. Training is deterministic (same texts -> the same vocab,
byte for byte). `config.data.tokenizer_path` loads a `tokenizer.json`
instead (e.g. one saved by `transformers`); it must have the special
tokens of its kind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence

import numpy as np

KINDS = ("wordpiece", "bpe")
DEFAULT_VOCAB_SIZE = 8192
WORDPIECE_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
END_OF_TEXT = "<|endoftext|>"
# Bytes (256) plus <|endoftext|>: a byte-level vocab cannot be smaller.
MIN_VOCAB_SIZE = {"wordpiece": 64, "bpe": 257}


@dataclasses.dataclass(frozen=True)
class Specials:
  """Special-token ids of a tokenizer (None where the kind has none).

  Attributes:
    pad: fills positions after the text ([PAD]; <|endoftext|> for bpe).
    cls, sep, mask, unk: BERT's tokens (wordpiece).
    eot: <|endoftext|>, the document separator (bpe).
  """

  pad: int
  cls: int | None = None
  sep: int | None = None
  mask: int | None = None
  unk: int | None = None
  eot: int | None = None

  def ids(self) -> tuple[int, ...]:
    """Every special id, sorted."""
    values = dataclasses.astuple(self)
    return tuple(sorted({v for v in values if v is not None}))


def specials(tok, kind: str, *, key: str = "data.tokenizer_path") -> Specials:
  """The special ids of `tok`; a ValueError naming `key` if one is missing."""
  names = WORDPIECE_SPECIALS if kind == "wordpiece" else (END_OF_TEXT,)
  ids = {name: tok.token_to_id(name) for name in names}
  missing = [name for name, i in ids.items() if i is None]
  if missing:
    raise ValueError(
      f"config.{key}: the tokenizer lacks the {kind} special tokens "
      f"{missing} (config.data.tokenizer={kind!r} needs {list(names)})"
    )
  if kind == "bpe":
    return Specials(pad=ids[END_OF_TEXT], eot=ids[END_OF_TEXT])
  pad, unk, cls, sep, mask = (ids[n] for n in WORDPIECE_SPECIALS)
  return Specials(pad=pad, cls=cls, sep=sep, mask=mask, unk=unk)


def train(kind: str, vocab_size: int, texts: Sequence[str]):
  """A new `tokenizers.Tokenizer` of `kind` trained on `texts`.

  Args:
    kind: "wordpiece" or "bpe".
    vocab_size: the vocabulary size to reach (smaller if the texts run out
      of merges).
    texts: the training texts, in a fixed order.

  Returns:
    A `tokenizers.Tokenizer`; the same texts give the same one.
  """
  # pylint: disable=g-import-not-at-top
  from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

  if kind == "wordpiece":
    return _train_wordpiece(vocab_size, texts)
  if kind != "bpe":
    raise ValueError(f"config.data.tokenizer={kind!r}: not one of {KINDS}")
  tok = Tokenizer(models.BPE())
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
    vocab_size=vocab_size,
    special_tokens=[END_OF_TEXT],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
  )
  tok.train_from_iterator(list(texts), trainer=trainer, length=len(texts))
  return tok


# Continuation characters (every character of a word but its first) are
# trained as private-use code points, so that plain BPE learns WordPiece's
# two kinds of piece: word starts and "##" continuations.
_CONTINUATION = 0xF0000
_MAX_CHAR = 0x10FFFD - _CONTINUATION  # words with higher ones are left out


def _train_wordpiece(vocab_size: int, texts: Sequence[str]):
  """A BERT-style WordPiece tokenizer learned with a deterministic BPE.

  `WordPieceTrainer` (and BPE with `continuing_subword_prefix`) number the
  "##" alphabet in hash-map order, which changes the ties between merges
  and so the vocabulary from run to run. Plain BPE is deterministic
  (alphabet and ties in a fixed order), so words are marked up before it
  learns: each continuation character becomes its own private-use code
  point. Every learned piece is then a word start (first character plain)
  or a continuation (all private-use), mapped back to "##..." for
  WordPiece.
  """
  # pylint: disable=g-import-not-at-top
  from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
  )

  normalizer = normalizers.BertNormalizer(lowercase=True)
  pre_tokenizer = pre_tokenizers.BertPreTokenizer()

  def marked(text: str) -> str:
    words = pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
    return " ".join(
      w[0] + "".join(chr(_CONTINUATION + ord(c)) for c in w[1:])
      for w, _ in words
      if max(map(ord, w)) <= _MAX_CHAR
    )

  def unmarked(piece: str) -> str:
    if piece in WORDPIECE_SPECIALS:
      return piece
    head, tail = (
      ("##", piece) if ord(piece[0]) >= _CONTINUATION else ("", piece)
    )
    return head + "".join(
      chr(ord(c) - _CONTINUATION) if ord(c) >= _CONTINUATION else c
      for c in tail
    )

  learner = Tokenizer(models.BPE())
  learner.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
  trainer = trainers.BpeTrainer(
    vocab_size=vocab_size,
    special_tokens=list(WORDPIECE_SPECIALS),
    show_progress=False,
  )
  learner.train_from_iterator(
    [marked(t) for t in texts], trainer=trainer, length=len(texts)
  )
  pieces = sorted(learner.get_vocab().items(), key=lambda kv: kv[1])
  vocab = {unmarked(piece): i for i, (piece, _) in enumerate(pieces)}
  tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
  tok.normalizer = normalizer
  tok.pre_tokenizer = pre_tokenizer
  tok.decoder = decoders.WordPiece(prefix="##")
  tok.add_special_tokens(list(WORDPIECE_SPECIALS))
  return tok


def encode_texts(
  tok, specials, texts, *, kind: str, seq_len: int, end_of_text: bool = False
) -> dict:
  """{"tokens" int32 [n, l], "is_pad" bool [n, l]}: one window per text.

  wordpiece: `[CLS] tokens [SEP] [PAD]...`, bpe: the tokens (then
  `<|endoftext|>` if `end_of_text`, as CLIP's text tower reads it) then
  padding; truncated to `seq_len`, the closing special kept (the official
  SimCSE truncates to `max_seq_length` 32). Used by the sentence protocol,
  the pair sources and the captions.
  """
  tokens = np.full((len(texts), seq_len), specials.pad, np.int32)
  is_pad = np.ones((len(texts), seq_len), bool)
  encoded = tok.encode_batch(list(texts), add_special_tokens=False)
  for i, e in enumerate(encoded):
    if kind == "wordpiece":
      ids = [specials.cls, *e.ids[: seq_len - 2], specials.sep]
    elif end_of_text:
      ids = [*e.ids[: seq_len - 1], specials.eot]
    else:
      ids = e.ids[:seq_len]
    tokens[i, : len(ids)] = ids
    is_pad[i, : len(ids)] = False
  return {"tokens": tokens, "is_pad": is_pad}


def corpus_key(texts: Sequence[str]) -> str:
  """A short content hash of `texts` (order included)."""
  h = hashlib.sha256()
  for text in texts:
    h.update(text.encode("utf-8"))
    h.update(b"\0")
  return h.hexdigest()[:16]


def cache_path(corpus: str, kind: str, vocab_size: int) -> str:
  """Where the tokenizer of (corpus, kind, vocab size) is cached."""
  from jaxssl.data import embedded  # pylint: disable=g-import-not-at-top

  name = f"{corpus}_{kind}_{vocab_size}.json"
  return os.path.join(embedded.cache_dir(), "tokenizers", name)


_LOADED: dict[tuple, object] = {}


def cached(corpus: str, kind: str, vocab_size: int, texts_fn):
  """The tokenizer of (corpus, kind, vocab size), trained at first use.

  Args:
    corpus: the corpus key (a version or a content hash).
    kind: "wordpiece" or "bpe".
    vocab_size: vocabulary size.
    texts_fn: `() -> texts`, the train split (called only to train).
  """
  # pylint: disable-next=g-import-not-at-top
  from tokenizers import Tokenizer

  key = (corpus, kind, vocab_size)
  if key in _LOADED:
    return _LOADED[key]
  path = cache_path(corpus, kind, vocab_size)
  tok = None
  if os.path.isfile(path):
    try:
      tok = Tokenizer.from_file(path)
    except Exception:  # pylint: disable=broad-except  # a corrupt cache
      tok = None
  if tok is None:
    from jaxssl.data import text_corpus  # pylint: disable=g-import-not-at-top

    tok = train(kind, vocab_size, texts_fn())
    text_corpus.write_atomically(path, tok.to_str())
  _LOADED[key] = tok
  return tok


def embedded(kind: str, vocab_size: int = DEFAULT_VOCAB_SIZE):
  """The tokenizer of `kind` trained on the embedded corpus's train split."""
  from jaxssl.data import text_corpus  # pylint: disable=g-import-not-at-top

  corpus = f"{text_corpus.NAME}_{text_corpus.version()}"
  return cached(
    corpus,
    kind,
    vocab_size,
    lambda: [d.text for d in text_corpus.load("train")],
  )


def from_file(path: str):
  """Loads a `tokenizer.json`; a ValueError naming the key if it fails."""
  # pylint: disable-next=g-import-not-at-top
  from tokenizers import Tokenizer

  if not os.path.isfile(path):
    raise ValueError(
      f"config.data.tokenizer_path={path!r}: no such file (a tokenizer.json "
      "saved by Hugging Face tokenizers)"
    )
  key = ("path", os.path.abspath(path), os.path.getmtime(path))
  if key in _LOADED:
    return _LOADED[key]
  try:
    _LOADED[key] = Tokenizer.from_file(path)
    return _LOADED[key]
  except Exception as e:  # pylint: disable=broad-except
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e)
    raise ValueError(
      f"config.data.tokenizer_path={path!r}: not a tokenizer.json ({first})"
    ) from None
