"""Weighted k-nearest-neighbour classification of frozen features (DINO's).

Pure JAX. Features are L2-normalised; each test point takes its `k` most
cosine-similar memory-bank points, weights each by exp(sim / T) and votes
for its label (Wu et al. 2018, as in DINO's `eval_knn.py`: k=20, T=0.07).

Top-1 is the argmax of the votes; top-5 (`knn_topk`) counts a query as right
when fewer than 5 classes have strictly more votes than its true class and
the true class has a vote at all (with fewer than 5 voted classes, classes
without a vote are never "predicted", unlike DINO's `topk` over zeros).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxssl.losses import l2_normalize


@functools.partial(jax.jit, static_argnames=("k", "num_classes"))
def knn_scores(
  bank, bank_labels, queries, *, k: int, temperature: float, num_classes: int
) -> jax.Array:
  """Class scores [q, num_classes] of `queries` [q, d] against `bank` [m, d]."""
  queries = l2_normalize(queries.astype(jnp.float32))
  bank = l2_normalize(bank.astype(jnp.float32))
  sims = queries @ bank.T
  top_sims, top_idx = jax.lax.top_k(sims, k)
  weights = jnp.exp(top_sims / temperature)
  votes = jax.nn.one_hot(bank_labels[top_idx], num_classes) * weights[..., None]
  return votes.sum(axis=1)


def _hits(scores, labels, ks) -> dict[int, np.ndarray]:
  scores = np.asarray(scores)
  labels = np.asarray(labels)
  true = scores[np.arange(len(labels)), labels]
  out = {}
  for k in ks:
    if k == 1:
      out[k] = np.argmax(scores, axis=-1) == labels
    else:
      rank = np.sum(scores > true[:, None], axis=-1)
      out[k] = (rank < k) & (true > 0)
  return out


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
  """Top-1 accuracy (in %) of weighted kNN (see `knn_topk`)."""
  return knn_topk(
    bank,
    bank_labels,
    queries,
    query_labels,
    k=k,
    temperature=temperature,
    num_classes=num_classes,
    chunk=chunk,
    ks=(1,),
  )[1]


def knn_topk(
  bank,
  bank_labels,
  queries,
  query_labels,
  *,
  k: int = 20,
  temperature: float = 0.07,
  num_classes: int,
  chunk: int = 1024,
  ks=(1, 5),
) -> dict[int, float]:
  """Top-k accuracies (in %) of weighted kNN, {k: accuracy} for k in `ks`.

  Args:
    bank: [m, d] memory-bank features (the training split).
    bank_labels: [m] int labels.
    queries: [q, d] features to classify.
    query_labels: [q] int labels.
    k: neighbours; clipped to m.
    temperature: vote weight temperature.
    num_classes: number of classes.
    chunk: queries per device call (bounds the [chunk, m] similarity matrix).
    ks: the top-k cut-offs (1: argmax; others: see the module docstring).

  Returns:
    {cut-off: accuracy in percent}, Python floats.
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
  query_labels = np.asarray(query_labels)
  correct = dict.fromkeys(ks, 0)
  for start in range(0, len(queries), chunk):
    scores = knn_scores(
      bank_j,
      labels_j,
      jnp.asarray(queries[start : start + chunk]),
      k=k,
      temperature=temperature,
      num_classes=num_classes,
    )
    hits = _hits(scores, query_labels[start : start + chunk], ks)
    for cut, h in hits.items():
      correct[cut] += int(h.sum())
  return {cut: 100.0 * c / max(len(queries), 1) for cut, c in correct.items()}
