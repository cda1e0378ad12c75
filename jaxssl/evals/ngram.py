"""Add-one smoothed n-gram language models of token windows (pure NumPy).

The references of the `mlm` and `next_token` protocols
(`jaxssl.evals.language`). Windows are (tokens int [n, l], is_pad bool
[n, l]) pairs, padding a suffix of each window. The targets of a window are
its non-pad tokens at positions 1..l-1, each with the token before it, so
no model looks across a window's start. With V tokens, c(w) target counts
and c(u, w) pair counts of the training windows:
  unigram  p(w) = (c(w) + 1) / (sum_w' c(w') + V)
  bigram   p(w | u) = (c(u, w) + 1) / (sum_w' c(u, w') + V)
Perplexity is exp of the mean negative log-probability of the targets.

References:
  Jurafsky & Martin, Speech and Language Processing, ch. 3 (n-gram
  language models, perplexity, Laplace smoothing).
"""

from __future__ import annotations

import numpy as np


def targets(tokens, is_pad) -> tuple[np.ndarray, np.ndarray]:
  """(previous token, target) of every non-pad position 1..l-1, int64."""
  tokens, keep = np.asarray(tokens), ~np.asarray(is_pad)[:, 1:]
  return (
    tokens[:, :-1][keep].astype(np.int64),
    tokens[:, 1:][keep].astype(np.int64),
  )


def unigram_log_probs(counts: np.ndarray) -> np.ndarray:
  """log (c(w) + 1) / (sum c + V) of counts [V], float64."""
  counts = np.asarray(counts, np.float64)
  return np.log((counts + 1.0) / (counts.sum() + len(counts)))


def unigram_perplexity(train, query, *, vocab_size: int) -> float:
  """Next-token perplexity of the add-one unigram of `train` on `query`.

  Args:
    train, query: (tokens int [n, l], is_pad bool [n, l]) windows.
    vocab_size: V.
  """
  _, w = targets(*train)
  log_p = unigram_log_probs(np.bincount(w, minlength=vocab_size))
  _, qw = targets(*query)
  return float(np.exp(-log_p[qw].mean()))


def bigram_log_probs(train, query, *, vocab_size: int) -> np.ndarray:
  """log p(w_i | u_i) of `query`'s targets under `train`'s add-one bigram.

  Sparse (sorted pair keys), so V^2 is never allocated.

  Args:
    train, query: (tokens int [n, l], is_pad bool [n, l]) windows.
    vocab_size: V.

  Returns:
    float64 [N], one entry per target of `query`.
  """
  v = vocab_size
  u, w = targets(*train)
  keys, counts = np.unique(u * v + w, return_counts=True)
  context = np.bincount(u, minlength=v).astype(np.float64)
  qu, qw = targets(*query)
  q = qu * v + qw
  pos = np.minimum(np.searchsorted(keys, q), max(len(keys) - 1, 0))
  hit = counts[pos] * (keys[pos] == q) if len(keys) else np.zeros(len(q))
  return np.log((hit + 1.0) / (context[qu] + v))


def bigram_perplexity(train, query, *, vocab_size: int) -> float:
  """Next-token perplexity of the add-one bigram of `train` on `query`."""
  log_p = bigram_log_probs(train, query, vocab_size=vocab_size)
  return float(np.exp(-log_p.mean()))


def token_counts(tokens, is_pad, *, vocab_size: int, special_ids=()):
  """Counts [V] of the non-pad, non-special tokens of windows (int64)."""
  tokens = np.asarray(tokens)[~np.asarray(is_pad)].astype(np.int64)
  counts = np.bincount(tokens, minlength=vocab_size)
  counts[list(special_ids)] = 0
  return counts
