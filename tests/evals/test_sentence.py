"""Protocol `sentence` against NumPy, scikit-learn and closed forms."""

import numpy as np
import pytest
import text_testing
from scipy.spatial import distance
from sklearn.feature_extraction import text as sk_text
from text_testing import V, text_toy  # noqa: F401 (fixture)

from jaxssl.data import text_sources, tokenizer
from jaxssl.data.kinds import tokens
from jaxssl.evals import knn, sentence

pytestmark = pytest.mark.usefixtures("text_toy")


def _reference(first, second):
  """Float64 NumPy / SciPy: retrieval (ties shared), alignment, uniformity."""
  x = np.concatenate([first, second]).astype(np.float64)
  x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
  n, p = len(x), len(first)
  credit = []
  for i in range(n):
    sims = x @ x[i]
    sims[i] = -np.inf
    ties = np.flatnonzero(sims == sims.max())
    credit.append(((i + p) % n in ties) / len(ties))
  sq = distance.pdist(x, "sqeuclidean")
  return {
    "eval/retrieval_top1": 100 * np.mean(credit),
    "eval/alignment": np.mean(((x[:p] - x[p:]) ** 2).sum(-1)),
    "eval/uniformity": np.log(np.exp(-2 * sq).mean()),
  }


def test_pair_scores_match_numpy():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(7, 5))
  b = a + 0.8 * rng.normal(size=(7, 5))
  got, want = sentence.pair_scores(a, b), _reference(a, b)
  assert got.keys() == want.keys()
  for k in want:
    assert got[k] == pytest.approx(want[k], rel=1e-5, abs=1e-6), k
  # Ties are shared: three identical rows, each pair's halves among them.
  a = np.array([[1.0, 0], [1.0, 0], [0, 1.0]])
  b = np.array([[1.0, 0], [0, -1.0], [-1.0, 0]])
  got = sentence.pair_scores(a, b)["eval/retrieval_top1"]
  assert got == pytest.approx(_reference(a, b)["eval/retrieval_top1"])
  assert 0 < got < 100


def test_paragraph_halves_and_windows():
  doc = text_sources.Document(
    "d", ("one two three four five six seven eight nine", "too short"), -1
  )
  first, second = sentence.paragraph_halves([doc], 8)
  assert first == ["one two three four"]
  assert second == ["five six seven eight nine"]
  c = text_testing.config()
  tok, specials = tokens.get_tokenizer(c)
  rows = tokenizer.encode_texts(
    tok, specials, ["the cat " * 40, "a"], kind="wordpiece", seq_len=32
  )
  t, pad = rows["tokens"], rows["is_pad"]
  assert (
    t[0, 0] == specials.cls and t[0, 31] == specials.sep and not pad[0].any()
  )
  n = (~pad[1]).sum()
  assert t[1, 0] == specials.cls and t[1, n - 1] == specials.sep
  assert (t[1, n:] == specials.pad).all() and pad[1, n:].all()
  rows = tokenizer.encode_texts(tok, specials, ["a"], kind="bpe", seq_len=32)
  assert (
    rows["tokens"][0, 0] == tok.encode("a", add_special_tokens=False).ids[0]
  )


def test_constant_encoder_is_at_chance_and_a_bag_beats_it():
  ev, state = text_testing.evaluator(
    "sentence", text_testing.config("constant")
  )
  p = len(ev.halves["tokens"]) // 2
  got = ev.evaluate(state)
  assert set(got) == {
    "eval/retrieval_top1",
    "eval/alignment",
    "eval/uniformity",
  }
  assert got["eval/retrieval_top1"] == pytest.approx(100 / (2 * p - 1))
  assert got["eval/alignment"] == pytest.approx(0, abs=1e-6)
  assert got["eval/uniformity"] == pytest.approx(0, abs=1e-5)  # log e^0
  ev, state = text_testing.evaluator("sentence", text_testing.config("bag"))
  got = ev.evaluate(state)
  assert got["eval/retrieval_top1"] > 20 * 100 / (2 * p - 1)


def test_tfidf_baseline_against_sklearn():
  c = text_testing.config("bag")
  ev, state = text_testing.evaluator("sentence", c)
  base = ev.baselines(state)
  assert base["eval/retrieval_top1_random_init"] == pytest.approx(
    ev.evaluate(state)["eval/retrieval_top1"]
  )
  # Directly: decode the windows, fit sklearn on the train split's.
  tok, _ = tokens.get_tokenizer(c)

  def decoded(rows):
    return [
      tok.decode(t[~m].tolist(), skip_special_tokens=True)
      for t, m in zip(rows["tokens"], rows["is_pad"])
    ]

  train = tokens.windows(c, "train")
  vec = sk_text.TfidfVectorizer(max_features=4096).fit(decoded(train))
  x = vec.transform(decoded(ev.halves)).toarray()
  p = len(x) // 2
  want = _reference(x[:p], x[p:])
  for k, v in want.items():
    assert base[f"{k}_tfidf"] == pytest.approx(v, rel=1e-4, abs=1e-5), k


@pytest.fixture(name="labelled", scope="module")
def _labelled(tmp_path_factory):
  """A text_folder of 3 classes, each with its own words."""
  root = tmp_path_factory.mktemp("folder")
  rng = np.random.default_rng(0)
  shared = ["the", "of", "and", "a", "to", "in", "is", "it", "that", "for"]
  words = {
    "animals": "cat dog horse mouse bird fish cow sheep goat lion",
    "cooking": "bake boil fry salt pepper oven pan stir dough sauce",
    "weather": "rain snow wind cloud storm sun fog hail frost thunder",
  }
  for split, n_docs in (("train", 12), ("test", 4)):
    for label, vocab in words.items():
      folder = root / split / label
      folder.mkdir(parents=True)
      for d in range(n_docs):
        paragraphs = [
          " ".join(rng.choice(vocab.split() + shared, 14)) for _ in range(4)
        ]
        (folder / f"{d}.txt").write_text("\n\n".join(paragraphs))
  return str(root)


def test_labelled_data_adds_knn_and_linear_probe(labelled):
  over = {"data.name": "text_folder", "data.data_dir": labelled}
  c = text_testing.config("bag", **over, **{"eval.max_train_examples": 30})
  ev, state = text_testing.evaluator("sentence", c)
  assert len(ev.bank["tokens"]) == 30
  assert len(set(ev.bank["label"].tolist())) == 3  # evenly spaced: every class
  got = ev.evaluate(state)
  assert {"eval/knn_top1", "eval/linear_top1"} <= set(got)

  # kNN directly on the bag-of-tokens features, in NumPy.
  def bag(rows):
    keep = ~rows["is_pad"] & (rows["tokens"] > 4)  # wordpiece specials 0-4
    return np.stack(
      [np.bincount(t[k], minlength=V) for t, k in zip(rows["tokens"], keep)]
    )

  want = knn.knn_top1(
    bag(ev.bank),
    ev.bank["label"],
    bag(ev.queries),
    ev.queries["label"],
    k=c.eval.knn_k,
    temperature=c.eval.knn_temperature,
    num_classes=3,
  )
  assert got["eval/knn_top1"] == pytest.approx(want)
  assert got["eval/knn_top1"] > 80 and got["eval/linear_top1"] > 80
  base = ev.baselines(state)
  assert base["eval/knn_top1_tfidf"] > 80
  assert "eval/linear_top1_random_init" in base


def test_too_few_paragraphs_name_the_key():
  c = text_testing.config("bag", **{"eval.min_paragraph_words": 100000})
  with pytest.raises(ValueError, match="eval.min_paragraph_words"):
    text_testing.evaluator("sentence", c)
