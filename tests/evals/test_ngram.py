"""The add-one n-gram models against a float64 reference, hand-made windows."""

import collections
import math

import numpy as np
import pytest

from jaxssl.evals import ngram

# Hand-made windows over V = 6 tokens; 0 pads the tails.
TRAIN = np.array([[1, 2, 3, 2, 0], [2, 3, 3, 5, 4], [4, 1, 0, 0, 0]])
QUERY = np.array([[2, 3, 4, 0, 0], [5, 5, 1, 2, 3]])


def _windows(x):
  is_pad = np.zeros(x.shape, bool)
  for row, r in zip(x, is_pad):
    r[np.flatnonzero(row)[-1] + 1 :] = True
  return x, is_pad


def _pairs(x):
  """(previous, target) of every non-pad position t >= 1, row by row."""
  out = []
  for row, pad in zip(*_windows(x)):
    out += [(row[t - 1], row[t]) for t in range(1, len(row)) if not pad[t]]
  return out


def test_ngram_perplexities_match_a_float64_reference():
  v = 6
  train, query = _pairs(TRAIN), _pairs(QUERY)
  pair_counts = collections.Counter(train)
  context = collections.Counter(u for u, _ in train)
  target = collections.Counter(w for _, w in train)
  bigram = [
    math.log((pair_counts[(u, w)] + 1) / (context[u] + v)) for u, w in query
  ]
  unigram = [math.log((target[w] + 1) / (len(train) + v)) for _, w in query]
  got = ngram.bigram_log_probs(_windows(TRAIN), _windows(QUERY), vocab_size=v)
  np.testing.assert_allclose(got, bigram, rtol=1e-12)
  assert ngram.bigram_perplexity(
    _windows(TRAIN), _windows(QUERY), vocab_size=v
  ) == pytest.approx(math.exp(-np.mean(bigram)), rel=1e-12)
  assert ngram.unigram_perplexity(
    _windows(TRAIN), _windows(QUERY), vocab_size=v
  ) == pytest.approx(math.exp(-np.mean(unigram)), rel=1e-12)


def test_mlm_unigram_counts_non_special_tokens():
  counts = ngram.token_counts(
    *_windows(TRAIN), vocab_size=6, special_ids=(0, 4)
  )
  assert counts.tolist() == [0, 2, 3, 3, 0, 1]
  want = np.log((counts + 1) / (counts.sum() + 6))
  np.testing.assert_allclose(ngram.unigram_log_probs(counts), want)
