"""Weighted k-nearest-neighbour classification of frozen features (DINO's).

Pure JAX. Features are L2-normalised; each test point takes its `k` most
cosine-similar memory-bank points, weights each by exp(sim / T) and votes
for its label (Wu et al. 2018, as in DINO's `eval_knn.py`: k=20, T=0.07).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def _normalize(x):
  x = x.astype(jnp.float32)
  return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@functools.partial(jax.jit, static_argnames=("k", "num_classes"))
def knn_scores(
  bank, bank_labels, queries, *, k: int, temperature: float, num_classes: int
) -> jax.Array:
  """Class scores [q, num_classes] of `queries` [q, d] against `bank` [m, d]."""
  sims = _normalize(queries) @ _normalize(bank).T
  top_sims, top_idx = jax.lax.top_k(sims, k)
  weights = jnp.exp(top_sims / temperature)
  votes = jax.nn.one_hot(bank_labels[top_idx], num_classes) * weights[..., None]
  return votes.sum(axis=1)


def knn_top1(
  bank,
  bank_labels,
  queries,
  query_labels,
  *,
  k: int = 20,
  temperature: float = 0.07,
  num_classes: int,
  chunk: int = 1024,
) -> float:
  """Top-1 accuracy (in %) of weighted kNN.

  Args:
    bank: [m, d] memory-bank features (the training split).
    bank_labels: [m] int labels.
    queries: [q, d] features to classify.
    query_labels: [q] int labels.
    k: neighbours; clipped to m.
    temperature: vote weight temperature.
    num_classes: number of classes.
    chunk: queries per device call (bounds the [chunk, m] similarity matrix).

  Returns:
    Accuracy in percent, a Python float.
  """
  bank = np.asarray(bank)
  queries = np.asarray(queries)
  if bank.ndim != 2 or queries.ndim != 2 or bank.shape[1] != queries.shape[1]:
    raise ValueError(
      f"bank {bank.shape} and queries {queries.shape} must be "
      "[m, d] and [q, d] with the same d"
    )
  if len(bank_labels) != len(bank) or len(query_labels) != len(queries):
    raise ValueError("labels must have one entry per row of bank / queries")
  k = min(k, len(bank))
  bank_j = jnp.asarray(bank)
  labels_j = jnp.asarray(bank_labels, jnp.int32)
  correct = 0
  for start in range(0, len(queries), chunk):
    scores = knn_scores(
      bank_j,
      labels_j,
      jnp.asarray(queries[start : start + chunk]),
      k=k,
      temperature=temperature,
      num_classes=num_classes,
    )
    pred = np.asarray(jnp.argmax(scores, axis=-1))
    correct += int(
      (pred == np.asarray(query_labels[start : start + chunk])).sum()
    )
  return 100.0 * correct / max(len(queries), 1)
