"""Weighted kNN against a float64 NumPy re-implementation."""

import numpy as np
import pytest

from jaxssl.evals import knn


def _reference(bank, bank_y, queries, query_y, k, t, num_classes):
  bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
  queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
  correct = 0
  for q, y in zip(queries, query_y):
    sims = bank @ q
    idx = np.argsort(-sims)[:k]
    votes = np.zeros(num_classes)
    for i in idx:
      votes[bank_y[i]] += np.exp(sims[i] / t)
    correct += int(np.argmax(votes) == y)
  return 100.0 * correct / len(queries)


@pytest.mark.parametrize("k", [1, 5, 20])
def test_knn_matches_reference(k):
  rng = np.random.default_rng(0)
  centers = rng.standard_normal((4, 8)) * 2
  bank_y = rng.integers(0, 4, 200)
  bank = centers[bank_y] + rng.standard_normal((200, 8))
  query_y = rng.integers(0, 4, 70)
  queries = centers[query_y] + rng.standard_normal((70, 8))
  got = knn.knn_top1(
    bank.astype(np.float32),
    bank_y,
    queries.astype(np.float32),
    query_y,
    k=k,
    temperature=0.07,
    num_classes=4,
    chunk=16,
  )
  want = _reference(bank, bank_y, queries, query_y, k, 0.07, 4)
  assert got == pytest.approx(want)
  assert got > 50  # separable clusters: far above chance (25%)


def test_knn_perfect_on_copies_and_k_clipped():
  rng = np.random.default_rng(1)
  bank = rng.standard_normal((10, 5)).astype(np.float32)
  labels = np.arange(10) % 3
  assert knn.knn_top1(bank, labels, bank, labels, k=1, num_classes=3) == 100.0
  # k larger than the bank is clipped, not an error.
  knn.knn_top1(bank, labels, bank, labels, k=50, num_classes=3)


def test_knn_shape_errors():
  with pytest.raises(ValueError, match="same d"):
    knn.knn_top1(
      np.zeros((4, 3)),
      np.zeros(4, int),
      np.zeros((2, 5)),
      np.zeros(2, int),
      num_classes=2,
    )
