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


def _reference_topk(bank, bank_y, queries, query_y, k, t, num_classes, cut):
  """float64: true class among the `cut` highest vote totals (and voted)."""
  bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
  queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
  correct = 0
  for q, y in zip(queries, query_y):
    sims = bank @ q
    idx = np.argsort(-sims)[:k]
    votes = np.zeros(num_classes)
    for i in idx:
      votes[bank_y[i]] += np.exp(sims[i] / t)
    order = [c for c in np.argsort(-votes, kind="stable") if votes[c] > 0]
    correct += int(y in order[:cut])
  return 100.0 * correct / len(queries)


@pytest.mark.parametrize("k", [3, 20])
def test_knn_top5_matches_reference(k):
  rng = np.random.default_rng(2)
  centers = rng.standard_normal((10, 8))
  bank_y = rng.integers(0, 10, 300)
  bank = centers[bank_y] + rng.standard_normal((300, 8))
  query_y = rng.integers(0, 10, 90)
  queries = centers[query_y] + rng.standard_normal((90, 8))
  got = knn.knn_topk(
    bank.astype(np.float32),
    bank_y,
    queries.astype(np.float32),
    query_y,
    k=k,
    temperature=0.1,
    num_classes=10,
    chunk=32,
    ks=(1, 5),
  )
  want5 = _reference_topk(bank, bank_y, queries, query_y, k, 0.1, 10, 5)
  want1 = _reference(bank, bank_y, queries, query_y, k, 0.1, 10)
  assert got[5] == pytest.approx(want5)
  assert got[1] == pytest.approx(want1)
  assert got[1] < got[5] < 100.0  # noisy clusters: top-5 strictly easier


def test_knn_top5_never_credits_a_class_without_votes():
  # One neighbour: only one class gets a vote, so top-5 equals top-1 even
  # with 10 classes (DINO's topk over zero scores would credit 5 of them).
  rng = np.random.default_rng(3)
  bank = rng.standard_normal((50, 4)).astype(np.float32)
  bank_y = np.arange(50) % 10
  queries = rng.standard_normal((40, 4)).astype(np.float32)
  query_y = rng.integers(0, 10, 40)
  got = knn.knn_topk(
    bank, bank_y, queries, query_y, k=1, num_classes=10, ks=(1, 5)
  )
  assert got[5] == got[1]
