"""Data kind `tokens`: keys, packing, sources, exact resume, sharding, errors.

No shipped method reads text yet, so a method that only declares the kind
is registered here. Tokenizers and the embedded corpus are cached in a
temporary `JAXSSL_CACHE_DIR`; TFDS runs on `tfds.testing.mock_data`.
"""

import itertools
import os

import ml_collections
import numpy as np
import pytest

from jaxssl import configs_lib, methods
from jaxssl.data import kinds, text_sources, tokenizer
from jaxssl.data.kinds import tokens
from jaxssl.methods import base

KIND = kinds.get("tokens")
ON_TOKENS = base.MethodDef(
  name="on_tokens",
  build=lambda config: None,
  config=ml_collections.ConfigDict,
  data_kinds=("tokens",),
)


@pytest.fixture(scope="module", autouse=True)
def _cache(data_caches):
  data_caches.setitem(methods.METHODS, "on_tokens", ON_TOKENS)
  return data_caches


def _config(**data):
  config = configs_lib.base_config("on_tokens")
  config.train.batch_size = 8
  config.data.vocab_size = 512
  config.data.seq_len = 32
  for key, value in data.items():
    config.data[key] = value
  return configs_lib.validate(config)


def _take(config, n, **kwargs):
  kwargs.setdefault("process_index", 0)
  kwargs.setdefault("process_count", 1)
  return list(itertools.islice(KIND.train_batches(config, **kwargs), n))


def _folder(root, layout):
  """Writes {relative path: text} under root; returns its path."""
  for rel, text in layout.items():
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
      path.write_bytes(text)
    else:
      path.write_text(text, encoding="utf-8")
  return str(root)


def _words(word, n):
  return " ".join(f"{word}{i % 7}" for i in range(n))


def test_keys_defaults_and_checks(tmp_path):
  config = _config()
  assert config.data.kind == "tokens" and config.data.name == "embedded_text"
  assert "views" not in config.data and "image_size" not in config.data
  for key, value, match in [
    ("seq_len", 1, r"config.data.seq_len=1: must be >= 2"),
    ("tokenizer", "sentencepiece", r"config.data.tokenizer='sentencepiece'"),
  ]:
    bad = _config()
    bad.data.tokenizer = "bpe"
    bad.data[key] = value
    with pytest.raises(ValueError, match=match):
      configs_lib.validate(bad)
  bad = _config()
  bad.data.seq_len = 2  # wordpiece: [CLS] [SEP] and no room for a token
  with pytest.raises(ValueError, match=r"config.data.seq_len=2: must be >= 3"):
    configs_lib.validate(bad)
  bad = _config()
  bad.data.tokenizer_path = str(tmp_path / "missing.json")
  with pytest.raises(ValueError, match=r"config.data.tokenizer_path=.*no such"):
    configs_lib.validate(bad)
  hint = KIND.size_hint(config)
  assert "config.data.seq_len=32" in hint and "batch_size=8" in hint
  smoke = _config(seq_len=128)
  KIND.smoke(smoke, None)
  assert smoke.data.seq_len == 32


@pytest.mark.parametrize("kind", tokenizer.KINDS)
def test_windows_of_the_embedded_corpus(kind):
  config = _config(tokenizer=kind)
  info = KIND.info(config)
  assert info.num_classes == 0 and info.num_train > 5 * info.num_eval > 0
  w = tokens.windows(config, "train")
  tok, s = tokens.get_tokenizer(config)
  toks, is_pad = w["tokens"], w["is_pad"]
  assert toks.shape == (info.num_train, 32) and toks.dtype == np.int32
  # Padding is a suffix, filled with the pad id.
  assert (np.diff(is_pad.astype(int), axis=1) >= 0).all()
  assert (toks[is_pad] == s.pad).all()
  length = (~is_pad).sum(1)
  if kind == "wordpiece":
    assert (toks[:, 0] == s.cls).all()
    assert (toks[np.arange(len(toks)), length - 1] == s.sep).all()
    inner = toks[:, 1:][~is_pad[:, 1:]]
    assert (inner == s.mask).sum() == 0 and (inner == s.cls).sum() == 0
  else:  # GPT-style: full windows, documents separated by <|endoftext|>
    assert (length[:-1] == 32).all()
    n_docs = len(text_sources.documents(config.data, "train"))
    assert (toks[~is_pad] == s.eot).sum() == n_docs
  text = tok.decode(toks[1][~is_pad[1]].tolist())
  assert len(text.split()) > 5


@pytest.mark.parametrize("kind", tokenizer.KINDS)
def test_packing_never_crosses_the_split(tmp_path, kind):
  root = _folder(
    tmp_path,
    {
      **{f"train/a/{i}.txt": _words("alpha", 50) for i in range(6)},
      **{f"train/b/{i}.txt": _words("beta", 50) for i in range(6)},
      # Letters where the train words have them (word start, continuation),
      # so no [UNK] hides the test text.
      **{f"test/a/{i}.txt": _words("bleat", 50) for i in range(3)},
      "test/b/x.txt": _words("bleat", 50),
    },
  )
  config = _config(name="text_folder", data_dir=root, tokenizer=kind)
  tok, _ = tokens.get_tokenizer(config)
  for split, inside, outside in (
    ("train", ("alpha", "beta"), "bleat"),
    ("test", ("bleat",), "alpha"),
  ):
    w = tokens.windows(config, split)
    for row, pad in zip(w["tokens"], w["is_pad"]):
      text = tok.decode(row[~pad].tolist())
      assert outside not in text, (split, text)
      assert any(word in text for word in inside), (split, text)
  info = KIND.info(config)
  assert info.num_classes == 2
  labels = tokens.windows(config, "train")["label"]
  assert set(labels.tolist()) == {0, 1}


def test_train_batches_match_the_spec_and_resume_exactly():
  config = _config()
  spec = KIND.batch_spec(config)
  fresh = _take(config, 6)
  for key, s in spec.items():
    assert fresh[0][key].shape == s.shape and fresh[0][key].dtype == s.dtype
  resumed = _take(config, 2, start_step=4)
  for a, b in zip(fresh[4:], resumed):
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])
  w = tokens.windows(config, "train")
  np.testing.assert_array_equal(
    fresh[0]["tokens"], w["tokens"][fresh[0]["index"]]
  )
  # Another seed, another order.
  other = _config()
  other.seed = 1
  assert not np.array_equal(_take(other, 1)[0]["index"], fresh[0]["index"])


def test_epochs_are_permutations_and_hosts_are_disjoint():
  config = _config()
  n = KIND.info(config).num_train
  hosts = []
  for p in range(2):
    b = config.train.batch_size // 2
    steps = (n // 2) // b
    batches = _take(config, steps + 1, process_index=p, process_count=2)
    index = np.concatenate([x["index"] for x in batches])
    first_epoch = index[: steps * b]
    assert len(set(first_epoch.tolist())) == len(first_epoch)
    hosts.append(set(index.tolist()))
  assert not hosts[0] & hosts[1]
  assert max(hosts[0]) < min(hosts[1])  # contiguous shards


def test_eval_batches_are_one_padded_pass():
  config = _config(tokenizer="bpe")
  n = KIND.info(config).num_eval
  spec = KIND.eval_spec(config, 16)
  counts = []
  for p in range(3):
    batches = list(
      KIND.eval_batches(
        config, "test", batch_size=16, process_index=p, process_count=3
      )
    )
    for key, s in spec.items():
      assert batches[0][key].shape == s.shape, key
      assert batches[0][key].dtype == s.dtype, key
    for b in batches:
      assert b["is_pad"][~b["valid"]].all()
    counts.append((len(batches), sum(int(b["valid"].sum()) for b in batches)))
  assert len({c[0] for c in counts}) == 1  # every host, as many batches
  assert sum(c[1] for c in counts) == n
  few = list(KIND.eval_batches(config, "test", batch_size=4, max_examples=6))
  assert sum(int(b["valid"].sum()) for b in few) == 6


def test_text_folder_layouts(tmp_path):
  plain = _folder(
    tmp_path / "plain",
    {
      **{f"train/{i}.txt": _words("alpha", 40) for i in range(4)},
      "test/0.txt": _words("omega", 40),
    },
  )
  config = _config(name="text_folder", data_dir=plain)
  assert KIND.info(config).num_classes == 0
  assert set(tokens.windows(config, "train")["label"].tolist()) == {-1}
  # No split folders: the files are split by document, labels from folders.
  flat = _folder(
    tmp_path / "flat",
    {
      f"{c}/sub/{i}.txt": _words(c, 40)
      for c in ("howto", "lib")
      for i in range(20)
    },
  )
  config = _config(name="text_folder", data_dir=flat)
  train = text_sources.documents(config.data, "train")
  test = text_sources.documents(config.data, "test")
  assert len(test) == 4 and len(train) == 36
  assert not {d.id for d in train} & {d.id for d in test}
  assert {d.label for d in train} == {0, 1}
  assert [d.id for d in train] == sorted(d.id for d in train)
  assert train[0].id.startswith(os.path.join("howto", "sub", ""))


def test_bad_input_is_one_line(tmp_path):
  def fails(config, match, fn=KIND.info):
    tokens.clear_cache()
    with pytest.raises(ValueError, match=match) as e:
      fn(config)
    assert "\n" not in str(e.value)

  fails(
    _config(name="text_folder", data_dir=str(tmp_path / "none")),
    r"config.data.data_dir to be a folder",
  )
  root = _folder(
    tmp_path / "latin1",
    {
      "train/ok.txt": _words("alpha", 40),
      "train/bad.txt": b"caf\xe9 au lait",
      "test/ok.txt": _words("alpha", 40),
    },
  )
  fails(
    _config(name="text_folder", data_dir=root),
    r"bad.txt: not UTF-8 text \(byte 0xe9 at offset 3\)",
  )
  small = _folder(
    tmp_path / "small",
    {"train/a.txt": _words("alpha", 20), "test/a.txt": _words("omega", 20)},
  )
  fails(
    _config(name="text_folder", data_dir=small),
    r"has \d+ tokens, fewer than one batch \(config.train.batch_size=8 x "
    r"config.data.seq_len=32 = 256\)",
    fn=lambda c: KIND.train_batches(c, process_index=0, process_count=1),
  )
  fails(
    _config(name="text_folder", data_dir=small, eval_split="valid"),
    r"has no folder 'valid'",
  )


@pytest.fixture(name="imdb_dir")
def _imdb_dir(tmp_path):
  """A data_dir holding imdb_reviews metadata only (12 train, 5 test)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  builder = tfds.builder("imdb_reviews", data_dir=str(tmp_path))
  builder.info.set_splits(
    tfds.core.SplitDict(
      [
        tfds.core.SplitInfo(name=name, shard_lengths=[n], num_bytes=n * 500)
        for name, n in (("train", 12), ("test", 5))
      ]
    )
  )
  os.makedirs(builder.data_dir, exist_ok=True)
  builder.info.write_to_directory(builder.data_dir)
  return str(tmp_path)


def test_tfds_text_dataset(imdb_dir, monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  with tfds.testing.mock_data(
    num_examples=12, data_dir=imdb_dir, policy=tfds.testing.MockPolicy.USE_FILES
  ):
    config = _config(
      name="imdb_reviews",
      data_dir=imdb_dir,
      label_key="label",
      tokenizer="bpe",
      vocab_size=300,
      seq_len=8,
    )
    config.train.batch_size = 4
    tokens.clear_cache()
    info = KIND.info(config)
    assert info.num_classes == 2 and info.num_train > 0 and info.num_eval > 0
    assert len(text_sources.documents(config.data, "train")) == 12
    batch = _take(config, 1)[0]
    assert batch["tokens"].shape == (4, 8)
    assert set(batch["label"].tolist()) <= {0, 1}
    bad = _config(name="imdb_reviews", data_dir=imdb_dir, text_key="review")
    tokens.clear_cache()
    with pytest.raises(ValueError, match=r"config.data.text_key='review'"):
      KIND.info(bad)


_WORDNET_HEADER = (
  "  1 This software and database is being provided to you, the LICENSEE\n"
)


def test_wordnet_glosses_with_topic_labels(tmp_path):
  lines = [
    f"{i:08d} {5 if i % 2 else 38} n 01 w{i} 0 000 | "
    f'a gloss about thing {i}; "an example {i}"  '
    for i in range(40)
  ]
  (tmp_path / "data.noun").write_text(
    _WORDNET_HEADER + "\n".join(lines) + "\n", encoding="utf-8"
  )
  config = _config(name="wordnet", data_dir=str(tmp_path))
  train = text_sources.documents(config.data, "train")
  test = text_sources.documents(config.data, "test")
  assert len(train) == 36 and len(test) == 4
  assert not {d.id for d in train} & {d.id for d in test}
  doc = next(d for d in train + test if d.id == "noun/00000001")
  assert doc.paragraphs == ('a gloss about thing 1; "an example 1"',)
  assert text_sources.WORDNET_TOPICS[doc.label] == "noun.animal"
  assert text_sources.WORDNET_TOPICS[38] == "verb.motion"
  assert len(text_sources.WORDNET_TOPICS) == 45
  assert KIND.info(config).num_classes == 45
  (tmp_path / "data.verb").write_text("00000001 99 v 01 go 0 | gloss\n")
  tokens.clear_cache()
  with pytest.raises(ValueError, match=r"data.verb:1: not a WordNet data"):
    text_sources.documents(config.data, "train")
  with pytest.raises(ValueError, match=r"config.data.data_dir to be the"):
    text_sources.documents(
      _config(name="wordnet", data_dir=str(tmp_path / "x")).data, "train"
    )
