"""Pair sources of kind `tokens`: files, WordNet, windows, resume, errors.

`text_pairs` files (CSV / TSV / JSON lines, one file split by anchor or a
folder of split files) and `wordnet_pairs` (a tiny fake WordNet, as the
wordnet tests write) through `jaxssl.data.text_pairs` and the `tokens`
kind's pair batches. Tokenizers are cached in a temporary
`JAXSSL_CACHE_DIR`.
"""

import csv
import itertools
import json

import ml_collections
import numpy as np
import pytest

from jaxssl import configs_lib, methods
from jaxssl.data import kinds, text_pairs, text_sources
from jaxssl.data.kinds import tokens
from jaxssl.methods import base

KIND = kinds.get("tokens")
ON_PAIRS = base.MethodDef(
  name="on_pairs",
  build=lambda config: None,
  config=ml_collections.ConfigDict,
  data_kinds=("tokens",),
)
_WORDS = (
  *("river", "stone", "light", "cloud", "paper", "garden", "window"),
  *("music", "engine", "forest", "silver", "winter", "market", "letter"),
  *("bridge", "candle", "harbor", "lantern", "meadow", "orchard", "pillow"),
  *("quarry", "saddle", "thistle", "velvet", "walnut", "yarrow", "zephyr"),
)


@pytest.fixture(scope="module", autouse=True)
def _cache(data_caches):
  data_caches.setitem(methods.METHODS, "on_pairs", ON_PAIRS)
  return data_caches


def _config(**data):
  config = configs_lib.base_config("on_pairs")
  config.train.batch_size = 8
  config.data.vocab_size = 512
  config.data.seq_len = 16
  for key, value in data.items():
    config.data[key] = value
  tokens.clear_cache()
  return configs_lib.validate(config)


def _take(config, n, **kwargs):
  kwargs.setdefault("process_index", 0)
  kwargs.setdefault("process_count", 1)
  return list(itertools.islice(KIND.train_batches(config, **kwargs), n))


def _sentence(i, salt):
  r = np.random.default_rng([i, salt])
  return " ".join(r.choice(_WORDS, size=int(r.integers(3, 9))))


def _rows(n, anchors=None):
  """n (sent0, sent1, hard_neg) rows; `anchors` distinct anchors."""
  anchors = anchors or n
  return [
    (
      f"{_sentence(i % anchors, 0)} {i % anchors}",
      _sentence(i, 1),
      _sentence(i, 2),
    )
    for i in range(n)
  ]


def _write(path, rows, columns=text_pairs.COLUMNS):
  """`rows` as a CSV / TSV (with header) or JSON-lines file."""
  if path.suffix == ".jsonl":
    lines = [json.dumps(dict(zip(columns, r))) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)
  if path.suffix == ".tsv":  # no quoting: cells hold no tab or newline
    lines = ["\t".join(r[: len(columns)]) for r in [columns, *rows]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)
  with open(path, "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f)
    w.writerow(columns)
    w.writerows(r[: len(columns)] for r in rows)
  return str(path)


def test_csv_tsv_and_jsonl_read_the_same_rows(tmp_path):
  rows = _rows(5)
  # CSV quoting: a comma and a quote inside cells.
  rows[1] = ('he said "yes", then left', "a, b and c", 'the "no" case')
  rows[2] = ("  spaced \t out  ", "two  words", "x")
  want = [tuple(" ".join(c.split()) for c in r) for r in rows]
  got = {}
  for ext in (".csv", ".jsonl"):
    path = _write(tmp_path / f"p{ext}", rows)
    got[ext] = [
      cells for _, cells in text_pairs.read_rows(path, hard_negatives=True)
    ]
  tsv_rows = [r for i, r in enumerate(rows) if i != 2]  # a tab cell breaks TSV
  path = _write(tmp_path / "p.tsv", tsv_rows)
  got_tsv = [c for _, c in text_pairs.read_rows(path, hard_negatives=True)]
  assert got[".csv"] == got[".jsonl"] == want
  assert got_tsv == [w for i, w in enumerate(want) if i != 2]
  # Without hard negatives, two columns suffice; line numbers are 1-based
  # lines of the file (the header is line 1).
  path = _write(tmp_path / "two.csv", rows, text_pairs.COLUMNS[:2])
  two = text_pairs.read_rows(path, hard_negatives=False)
  assert [c for _, c in two] == [w[:2] for w in want]
  assert [n for n, _ in two] == [2, 3, 4, 5, 6]
  with pytest.raises(
    ValueError,
    match=r"two.csv: no column 'hard_neg' \(or "
    r"set config.data.hard_negatives=False\)",
  ):
    text_pairs.read_rows(path, hard_negatives=True)


def test_one_file_splits_by_anchor(tmp_path):
  # 60 rows over 20 anchors (3 hypotheses per premise, as SNLI).
  path = _write(tmp_path / "nli.csv", _rows(60, anchors=20))
  config = _config(name="text_pairs", data_dir=path)
  train = text_pairs.pairs(config.data, "train")
  test = text_pairs.pairs(config.data, "test")
  assert len(train.anchor) == 54 and len(test.anchor) == 6
  assert not set(train.anchor) & set(test.anchor)  # 2 of 20 anchors held out
  assert len(set(test.anchor)) == 2
  assert train.negative is not None and (train.label == -1).all()
  # The protocols' documents: each row's three sentences, no labels.
  docs = text_sources.documents(config.data, "test")
  assert [d.paragraphs[0] for d in docs] == list(test.anchor)
  assert [d.paragraphs[2] for d in docs] == list(test.negative)
  assert KIND.info(config).num_classes == 0
  assert KIND.info(config).num_train == 54
  # hard_negatives=False drops the third sentence everywhere.
  pairs_only = _config(name="text_pairs", data_dir=path, hard_negatives=False)
  assert text_pairs.pairs(pairs_only.data, "train").negative is None
  assert "negative_tokens" not in KIND.batch_spec(pairs_only)
  assert set(_take(pairs_only, 1)[0]) == {
    "tokens",
    "is_pad",
    "positive_tokens",
    "positive_is_pad",
    "label",
    "index",
  }


def test_folder_of_split_files(tmp_path):
  rows = _rows(30)
  _write(tmp_path / "train.tsv", rows[:24])
  _write(tmp_path / "test.jsonl", rows[24:])
  config = _config(name="text_pairs", data_dir=str(tmp_path))
  train = text_pairs.pairs(config.data, "train")
  test = text_pairs.pairs(config.data, "test")
  assert train.anchor == tuple(r[0] for r in rows[:24])
  assert test.positive == tuple(r[1] for r in rows[24:])
  assert test.negative == tuple(r[2] for r in rows[24:])


def test_pair_batches_match_the_spec_and_resume_exactly(tmp_path):
  path = _write(tmp_path / "nli.jsonl", _rows(50))
  config = _config(name="text_pairs", data_dir=path)
  spec = KIND.batch_spec(config)
  fresh = _take(config, 8)
  assert set(fresh[0]) == set(spec)
  for key, s in spec.items():
    assert fresh[0][key].shape == s.shape and fresh[0][key].dtype == s.dtype
  resumed = _take(config, 3, start_step=5)
  for a, b in zip(fresh[5:], resumed):
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])
  # Row i of every part is pair index[i]: decode the windows back.
  tok, specials = tokens.get_tokenizer(config)
  train = text_pairs.pairs(config.data, "train")
  batch = fresh[0]
  for part, texts in (
    ("", train.anchor),
    ("positive_", train.positive),
    ("negative_", train.negative),
  ):
    ids = batch[part + "tokens"]
    assert (ids[:, 0] == specials.cls).all()
    for row, is_pad, i in zip(ids, batch[part + "is_pad"], batch["index"]):
      assert not is_pad[0] and is_pad[-1]  # short sentences, padded
      decoded = tok.decode(row[~is_pad].tolist(), skip_special_tokens=True)
      assert decoded == texts[i]
  # An epoch is a permutation of the pairs; two hosts get disjoint halves.
  n = KIND.info(config).num_train
  one = np.concatenate([b["index"] for b in _take(config, n // 8)])
  assert len(set(one.tolist())) == len(one)
  hosts = [
    set(
      np.concatenate(
        [b["index"] for b in _take(config, 4, process_index=p, process_count=2)]
      ).tolist()
    )
    for p in range(2)
  ]
  assert not hosts[0] & hosts[1]


def test_long_sentences_are_truncated_to_seq_len(tmp_path):
  rows = [(" ".join(_WORDS), "short one", "short two")] * 10
  path = _write(tmp_path / "long.csv", rows)
  config = _config(name="text_pairs", data_dir=path, seq_len=8)
  w = tokens.pair_windows(config, "train")
  _, specials = tokens.get_tokenizer(config)
  assert w["tokens"].shape[1] == 8 and not w["is_pad"].any(axis=1).any()
  assert (w["tokens"][:, -1] == specials.sep).all()


def _fake_wordnet(root, n=60):
  """data.noun / data.verb: glosses with 0-2 quoted examples, 3 topics."""
  header = "  1 This software and database is being provided to you\n"
  for pos, topics in (("noun", (5, 18)), ("verb", (38,))):
    lines = []
    for i in range(n):
      examples = "".join(
        f'; "{_sentence(i, 10 + k)} {pos}{i}"' for k in range(i % 3)
      )
      topic = topics[i % len(topics)]
      lines.append(
        f"{i:08d} {topic} {pos[0]} 01 w{i} 0 000 | "
        f"{_sentence(i, 3)} {pos} def{i}{examples}  "
      )
    (root / f"data.{pos}").write_text(header + "\n".join(lines) + "\n")
  return str(root)


def test_split_gloss():
  assert text_pairs.split_gloss(
    'draw air into, and expel out of, the lungs; "I can breathe better"; '
    '"The patient is respiring"'
  ) == (
    "draw air into, and expel out of, the lungs",
    ("I can breathe better", "The patient is respiring"),
  )
  # A quote inside the definition stays in it.
  assert text_pairs.split_gloss(
    'promise of reward as in "carrot and stick"; "used the carrot"; '
  ) == ('promise of reward as in "carrot and stick"', ("used the carrot",))
  assert text_pairs.split_gloss("a gloss; no example") == (
    "a gloss; no example",
    (),
  )
  assert text_pairs.split_gloss('x: "not split here"') == (
    'x: "not split here"',
    (),
  )


def test_wordnet_pairs(tmp_path):
  root = _fake_wordnet(tmp_path)
  config = _config(name="wordnet_pairs", data_dir=root)
  as_glosses = _config(name="wordnet", data_dir=root)
  for split in ("train", "test"):
    docs = text_sources.documents(config.data, split)
    # The protocols see exactly the "wordnet" source's labelled glosses.
    assert docs == text_sources.documents(as_glosses.data, split)
    p = text_pairs.pairs(config.data, split)
    want = [
      (text_pairs.split_gloss(d.text)[0], e, d.label)
      for d in docs
      for e in text_pairs.split_gloss(d.text)[1]
    ]
    assert list(zip(p.anchor, p.positive, p.label.tolist())) == want
    # Each hard negative: the definition of another topic's synset.
    topic = {text_pairs.split_gloss(d.text)[0]: d.label for d in docs}
    assert all(topic[n] != t for n, t in zip(p.negative, p.label))
  train = text_pairs.pairs(config.data, "train")
  test = text_pairs.pairs(config.data, "test")
  assert len(train.anchor) + len(test.anchor) == 120  # one pair per example
  assert len(set(train.negative)) > 20  # drawn, not one fixed gloss
  assert KIND.info(config).num_classes == 45
  assert KIND.info(config).num_train == len(train.anchor)
  # A fixed draw: the same negatives in a fresh process.
  tokens.clear_cache()
  again = text_pairs.pairs(config.data, "train")
  assert again is not train and again.negative == train.negative
  batch = _take(config, 1)[0]
  np.testing.assert_array_equal(batch["label"], train.label[batch["index"]])


def test_bad_input_is_one_line(tmp_path):
  def fails(config, match, fn=KIND.info):
    tokens.clear_cache()
    with pytest.raises(ValueError, match=match) as e:
      fn(config)
    assert "\n" not in str(e.value)

  fails(
    _config(name="text_pairs", data_dir=str(tmp_path / "none")),
    r"config.data.data_dir to be a pairs file",
  )
  (tmp_path / "empty").mkdir()
  _write(tmp_path / "empty" / "train.csv", _rows(10))
  fails(
    _config(name="text_pairs", data_dir=str(tmp_path / "empty")),
    r"needs one file test\{.csv,.tsv,.jsonl\} for split 'test'; it has "
    r"\['train.csv'\]",
  )
  bad = tmp_path / "rows.txt"
  bad.write_text("sent0,sent1\n")
  fails(
    _config(name="text_pairs", data_dir=str(bad)),
    r"rows.txt: a pairs "
    r"file ends in one of",
  )
  rows = _rows(10)
  rows[3] = ("an anchor", "  ", "neg")
  fails(
    _config(name="text_pairs", data_dir=_write(tmp_path / "gap.csv", rows)),
    r"gap.csv:5: column 'sent1' is empty or missing",
  )
  (tmp_path / "bad.jsonl").write_text('{"sent0": "a", "sent1": "b"}\n{no\n')
  fails(
    _config(
      name="text_pairs",
      data_dir=str(tmp_path / "bad.jsonl"),
      hard_negatives=False,
    ),
    r"bad.jsonl:2: not JSON",
  )
  (tmp_path / "two.jsonl").write_text('{"sent0": "a", "sent1": "b"}\n')
  fails(
    _config(name="text_pairs", data_dir=str(tmp_path / "two.jsonl")),
    r"two.jsonl:1: no 'hard_neg' \(or set config.data.hard_negatives=False\)",
  )
  (tmp_path / "latin1.tsv").write_bytes(b"sent0\tsent1\ncaf\xe9\tx\n")
  fails(
    _config(
      name="text_pairs",
      data_dir=str(tmp_path / "latin1.tsv"),
      hard_negatives=False,
    ),
    r"latin1.tsv: not UTF-8 text \(byte 0xe9",
  )
  small = _write(tmp_path / "small.csv", _rows(8))
  fails(
    _config(name="text_pairs", data_dir=small),
    r"has 7 pairs, fewer than one batch \(config.train.batch_size=8\)",
    fn=lambda c: KIND.train_batches(c, process_index=0, process_count=1),
  )
  fails(
    _config(name="wordnet_pairs", data_dir=str(tmp_path)),
    r"config.data.name='wordnet_pairs' needs config.data.data_dir to be the "
    r"folder of WordNet",
  )
