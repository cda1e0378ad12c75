"""Protocol `sentence`: frozen sentence embeddings (`Method.features`).

Embeddings f are the method's features (inference mode) of token windows,
in global batches of `config.eval.batch_size` sharded over the mesh's
"data" axis (`jaxssl.evals.sharded`), L2-normalised for every score below.

Paragraph halves (label-free). Every paragraph of the eval split's
documents (`text_sources.paragraphs`) with at least
`config.eval.min_paragraph_words` words is cut at its middle word boundary
(the first half gets floor(w / 2) words), and each half becomes one window
of `config.data.seq_len` tokens, truncated: `[CLS] half [SEP] [PAD]...` for
wordpiece, the half's tokens then padding for bpe. With P paragraphs, the
2P halves x_1..x_2P and pair(i) the other half of i's paragraph:
  eval/retrieval_top1  100 / 2P * sum_i [pair(i) is the cosine nearest
                       neighbour of x_i among the 2P - 1 other halves] (%);
                       ties are shared (a tie of k halves counts 1 / k when
                       pair(i) is among them), the expected score under a
                       random tie-break, so a constant encoder scores
                       exactly chance, 100 / (2P - 1).
  eval/alignment       1 / P * sum_{pairs} ||f(x) - f(y)||^2
  eval/uniformity      log( 1 / (2P (2P - 1)) * sum_{i != j}
                       exp(-2 ||f(x_i) - f(x_j)||^2) )
  (Wang & Isola's alignment with alpha = 2 and uniformity with t = 2; lower
  is better for both.)

Labelled data (`DatasetInfo.num_classes > 0`: `text_folder` with class
folders, `wordnet`, a TFDS `label_key`), windows with label >= 0 only:
  eval/knn_top1     weighted kNN (`jaxssl.evals.knn`, k = `eval.knn_k`,
                    T = `eval.knn_temperature`) of the eval split's windows
                    against a bank of the train split's windows;
  eval/linear_top1  with `eval.linear_probe`, the L-BFGS logistic regression
                    of `jaxssl.evals.linear` on the same features (%).
  The bank is `eval.max_train_examples` windows evenly spaced over the train
  split (all of them when 0): the windows are in document order, and
  folders in class order, so the first windows would be one class.

Baselines, scored once at step 0 with the same scores:
  `_random_init`  the step-0 encoder;
  `_tfidf`        scikit-learn's `TfidfVectorizer` (its defaults: lower-case
                  words of 2+ characters, smoothed idf, L2-normalised rows)
                  with the `TFIDF_MAX_FEATURES` most frequent words, fitted
                  on the train split: the bank's windows (unlabelled data:
                  `eval.max_train_examples` evenly spaced windows, all when
                  0), so the eval split stays unseen. Every window (halves,
                  bank, queries) is decoded back to text by the tokenizer,
                  so TF-IDF sees exactly the truncated text the encoder
                  sees.

References:
  Wang & Isola, Understanding Contrastive Representation Learning through
  Alignment and Uniformity on the Hypersphere, arXiv:2005.10242.
  Gao et al., SimCSE: Simple Contrastive Learning of Sentence Embeddings,
  arXiv:2104.08821 (alignment / uniformity of sentence embeddings).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxssl.data.tokenizer import encode_texts
from jaxssl.evals import knn, linear, sharded
from jaxssl.evals.base import Context
from jaxssl.losses import l2_normalize
from jaxssl.train import mesh as mesh_lib

TFIDF_MAX_FEATURES = 4096  # dense TF-IDF rows for the kNN and linear probe
_CHUNK = 1024  # query halves per device call of the similarity scores


def paragraph_halves(documents, min_words: int) -> tuple[list, list]:
  """(first halves, second halves) of the paragraphs of >= min_words words."""
  from jaxssl.data import text_sources  # pylint: disable=g-import-not-at-top

  first, second = [], []
  for doc in documents:
    for paragraph in text_sources.paragraphs(doc.text):
      words = paragraph.split()
      if len(words) >= min_words:
        cut = len(words) // 2
        first.append(" ".join(words[:cut]))
        second.append(" ".join(words[cut:]))
  return first, second


@jax.jit
def _chunk_scores(queries, rows, x, pair):
  """Retrieval credit and uniformity sums of query rows `rows` of `x`."""
  sims = queries @ x.T
  is_self = rows[:, None] == jnp.arange(x.shape[0])[None]
  sq = jnp.sum(queries**2, 1)[:, None] + jnp.sum(x**2, 1)[None] - 2 * sims
  gauss = jnp.where(is_self, 0.0, jnp.exp(-2.0 * jnp.maximum(sq, 0.0)))
  sims = jnp.where(is_self, -jnp.inf, sims)
  ties = sims == jnp.max(sims, axis=1, keepdims=True)
  hit = jnp.take_along_axis(ties, pair[:, None], axis=1)[:, 0]
  return hit / jnp.sum(ties, axis=1), jnp.sum(gauss, axis=1)


def pair_scores(first, second) -> dict[str, float]:
  """Retrieval top-1 (%), alignment and uniformity of paired embeddings.

  Args:
    first, second: [P, d] embeddings; row i of each is one paragraph's
      halves (normalised here).

  Returns:
    {"eval/retrieval_top1", "eval/alignment", "eval/uniformity"}, as
    defined in the module docstring.
  """
  a = l2_normalize(jnp.asarray(first, jnp.float32))
  b = l2_normalize(jnp.asarray(second, jnp.float32))
  p = a.shape[0]
  if p < 2 or b.shape != a.shape:
    raise ValueError(
      f"pair_scores: first {a.shape} and second {b.shape} must be [P, d] "
      "with P >= 2"
    )
  x = jnp.concatenate([a, b])
  pair = (np.arange(2 * p) + p) % (2 * p)
  credit, gauss = [], []
  for s in range(0, 2 * p, _CHUNK):
    rows = np.arange(s, min(s + _CHUNK, 2 * p))
    c, g = _chunk_scores(x[rows], jnp.asarray(rows), x, jnp.asarray(pair[rows]))
    credit.append(np.asarray(c, np.float64))
    gauss.append(np.asarray(g, np.float64))
  an, bn = np.asarray(a, np.float64), np.asarray(b, np.float64)
  n = 2 * p
  return {
    "eval/retrieval_top1": 100.0 * np.concatenate(credit).mean(),
    "eval/alignment": float(np.mean(np.sum((an - bn) ** 2, axis=1))),
    "eval/uniformity": float(
      np.log(np.concatenate(gauss).sum() / (n * (n - 1)))
    ),
  }


class Sentence:
  """Scores a method's sentence embeddings (see the module docstring)."""

  def __init__(self, context: Context):
    # pylint: disable=g-import-not-at-top
    from jaxssl.data import text_sources
    from jaxssl.data.kinds import tokens

    c = context.config
    if c.data.kind != "tokens":
      raise ValueError(
        f"config.data.kind={c.data.kind!r}: protocol 'sentence' reads kind "
        "'tokens'"
      )
    mesh_lib.check_batch_size(
      c.eval.batch_size, context.mesh, "eval.batch_size"
    )
    self._config, self._mesh = c, context.mesh
    self._num_classes = context.info.num_classes
    self._tok, self._specials = tokens.get_tokenizer(c)
    d = c.data
    first, second = paragraph_halves(
      text_sources.documents(d, d.eval_split), c.eval.min_paragraph_words
    )
    if len(first) < 2:
      raise ValueError(
        f"config.eval.min_paragraph_words={c.eval.min_paragraph_words}: "
        f"{len(first)} paragraph(s) of split {d.eval_split!r} have that many "
        "words; the retrieval needs at least 2"
      )
    enc = functools.partial(
      encode_texts,
      self._tok,
      self._specials,
      kind=d.tokenizer,
      seq_len=d.seq_len,
    )
    self.halves = enc(first + second)
    self.bank = self.queries = None
    if self._num_classes:
      self.queries = _subset(tokens.windows(c, d.eval_split), 0)
      self.bank = _subset(
        tokens.windows(c, d.train_split), c.eval.max_train_examples
      )
    self._features = jax.jit(
      context.method.features, out_shardings=mesh_lib.data_sharding(self._mesh)
    )

  def _embed(self, state, rows) -> np.ndarray:
    fn = lambda batch: self._features(state.params, state.extra, batch)
    rows = {
      "tokens": rows["tokens"],
      "is_pad": rows["is_pad"],
      "label": rows.get("label", np.full(len(rows["tokens"]), -1, np.int32)),
    }
    pad = {"tokens": self._specials.pad, "is_pad": True, "label": -1}
    return sharded.map_rows(
      fn, rows, self._mesh, self._config.eval.batch_size, pad=pad
    )

  def _score(self, embed) -> dict[str, float]:
    """All scores of `embed(rows) -> [n, d]` features."""
    c = self._config
    h = embed(self.halves)
    p = len(h) // 2
    out = pair_scores(h[:p], h[p:])
    if self.bank is None:
      return out
    bank_x, query_x = embed(self.bank), embed(self.queries)
    bank_y, query_y = self.bank["label"], self.queries["label"]
    out["eval/knn_top1"] = knn.knn_top1(
      bank_x,
      bank_y,
      query_x,
      query_y,
      k=c.eval.knn_k,
      temperature=c.eval.knn_temperature,
      num_classes=self._num_classes,
    )
    if c.eval.linear_probe:
      out["eval/linear_top1"] = linear.linear_probe(
        bank_x,
        bank_y,
        query_x,
        query_y,
        num_classes=self._num_classes,
        steps=c.eval.linear_steps,
      )["top1"]
    return out

  def evaluate(self, state, *, final: bool = False) -> dict[str, float]:
    """The scores of the module docstring for the features at `state`."""
    del final  # the same held-out data at every evaluation
    return self._score(lambda rows: self._embed(state, rows))

  def texts_of(self, rows) -> list[str]:
    """The windows of `rows` decoded to text (special tokens dropped)."""
    ids = [t[~m].tolist() for t, m in zip(rows["tokens"], rows["is_pad"])]
    return self._tok.decode_batch(ids, skip_special_tokens=True)

  def tfidf(self):
    """The `TfidfVectorizer` of the `_tfidf` baseline, fitted."""
    from sklearn.feature_extraction import text  # pylint: disable=g-import-not-at-top

    c = self._config
    fit_on = self.bank
    if fit_on is None:
      from jaxssl.data.kinds import tokens  # pylint: disable=g-import-not-at-top

      fit_on = _subset(
        tokens.windows(c, c.data.train_split),
        c.eval.max_train_examples,
        labelled=False,
      )
    vectorizer = text.TfidfVectorizer(max_features=TFIDF_MAX_FEATURES)
    return vectorizer.fit(self.texts_of(fit_on))

  def baselines(self, state) -> dict[str, float]:
    """`_random_init` (the encoder at `state`, step 0) and `_tfidf`."""
    vectorizer = self.tfidf()
    embed = lambda rows: np.asarray(
      vectorizer.transform(self.texts_of(rows)).toarray(), np.float32
    )
    out = {f"{k}_tfidf": v for k, v in self._score(embed).items()}
    out.update({f"{k}_random_init": v for k, v in self.evaluate(state).items()})
    return out


def _subset(windows, max_examples: int, *, labelled: bool = True) -> dict:
  """`max_examples` windows evenly spaced (all if 0); with `labelled`, of
  the windows with label >= 0 only."""
  n = len(windows["tokens"])
  idx = np.arange(n)
  if labelled:
    idx = idx[windows["label"] >= 0]
  if 0 < max_examples < len(idx):
    idx = idx[np.linspace(0, len(idx) - 1, max_examples).astype(int)]
  return {k: windows[k][idx] for k in ("tokens", "is_pad", "label")}


def build(context: Context) -> Sentence:
  return Sentence(context)
