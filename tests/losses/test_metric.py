"""Tests for jaxssl.losses._metric against brute-force float64 NumPy loops.

The references follow torch.nn.TripletMarginLoss and pytorch-metric-learning
(normalised embeddings, all pairs/triplets from labels, library reducers).
"""

import functools
import itertools

import jax
import jax.numpy as jnp
import losses_testing as lt
import numpy as np
import pytest

from jaxssl import losses

LABELS = np.array([0, 1, 0, 2, 1, 0, 3, 1])


def _data(seed, n=8, d=5):
  return np.random.default_rng(seed).normal(size=(n, d))


def _unit(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _dist(a, b):
  return float(np.sqrt(np.sum((a - b) ** 2)))


def _avg_non_zero(values):
  values = np.asarray(values, np.float64)
  nz = np.sum(values > 0)
  return float(values.sum() / nz) if nz else 0.0


def np_triplet_margin(a, p, n, margin, pp, eps):
  def dist(x, y):
    return np.sum(np.abs(x - y + eps) ** pp, axis=-1) ** (1 / pp)

  return np.mean(np.maximum(dist(a, p) - dist(a, n) + margin, 0))


def np_triplet_all(x, y, margin):
  x = _unit(x)
  terms = []
  for a, p, n in itertools.product(range(len(y)), repeat=3):
    if a != p and y[a] == y[p] and y[n] != y[a]:
      terms.append(max(_dist(x[a], x[p]) - _dist(x[a], x[n]) + margin, 0))
  return _avg_non_zero(terms)


def np_contrastive_pair(x, y, pos_margin, neg_margin):
  x = _unit(x)
  pos, neg = [], []
  for i, j in itertools.permutations(range(len(y)), 2):
    d = _dist(x[i], x[j])
    if y[i] == y[j]:
      pos.append(max(d - pos_margin, 0))
    else:
      neg.append(max(neg_margin - d, 0))
  return _avg_non_zero(pos) + _avg_non_zero(neg)


def np_lifted(x, y, neg_margin, pos_margin):
  x = _unit(x)
  n = len(y)
  out = []
  for i, j in itertools.permutations(range(n), 2):
    if y[i] != y[j]:
      continue
    terms = [
      neg_margin - _dist(x[a], x[k])
      for a in (i, j)
      for k in range(n)
      if y[k] != y[a]
    ]
    lse = np.log(np.sum(np.exp(terms))) if terms else 0.0
    out.append(max(lse + _dist(x[i], x[j]) - pos_margin, 0) ** 2 / 2)
  return float(np.mean(out)) if out else 0.0


def np_n_pairs(x, y):
  x = _unit(x)
  anchors, positives = [], []
  for c in sorted(set(y.tolist())):
    members = np.flatnonzero(y == c)
    if len(members) >= 2:
      anchors.append(members[0])
      positives.append(members[1])
  if not anchors:
    return 0.0
  sim = x[anchors] @ x[positives].T
  lse = np.log(np.sum(np.exp(sim), axis=1))
  return float(np.mean(lse - np.diag(sim)))


def np_snn(x, y, temperature):
  x = _unit(x)
  out = []
  for i in range(len(y)):
    num = sum(
      np.exp(-(_dist(x[i], x[j]) ** 2) / temperature)
      for j in range(len(y))
      if j != i and y[j] == y[i]
    )
    den = sum(
      np.exp(-(_dist(x[i], x[k]) ** 2) / temperature)
      for k in range(len(y))
      if k != i
    )
    if num > 0:
      out.append(-np.log(num / den))
  return float(np.mean(out)) if out else 0.0


LABELLED = {
  "triplet_all": (
    functools.partial(losses.triplet_all, margin=0.3),
    functools.partial(np_triplet_all, margin=0.3),
  ),
  "triplet_all_big_margin": (
    functools.partial(losses.triplet_all, margin=2.0),
    functools.partial(np_triplet_all, margin=2.0),
  ),
  "contrastive_pair": (
    functools.partial(losses.contrastive_pair, pos_margin=0.1, neg_margin=1.2),
    functools.partial(np_contrastive_pair, pos_margin=0.1, neg_margin=1.2),
  ),
  "contrastive_pair_default": (
    losses.contrastive_pair,
    functools.partial(np_contrastive_pair, pos_margin=0.0, neg_margin=1.0),
  ),
  "lifted_structured": (
    losses.lifted_structured,
    functools.partial(np_lifted, neg_margin=1.0, pos_margin=0.0),
  ),
  "lifted_structured_margins": (
    functools.partial(losses.lifted_structured, neg_margin=0.5, pos_margin=0.2),
    functools.partial(np_lifted, neg_margin=0.5, pos_margin=0.2),
  ),
  "n_pairs": (losses.n_pairs, np_n_pairs),
  "soft_nearest_neighbor": (
    functools.partial(losses.soft_nearest_neighbor, temperature=0.5),
    functools.partial(np_snn, temperature=0.5),
  ),
}


@pytest.mark.parametrize("name", sorted(LABELLED))
@pytest.mark.parametrize(
  "labels",
  [
    LABELS,
    np.array([0, 0, 1, 1, 2, 2, 3, 3]),
    np.array([5, 6, 7, 8, 9, 10, 11, 5]),
  ],
)
def test_labelled_value(name, labels):
  fn, ref = LABELLED[name]
  x = _data(1)
  got = jax.jit(fn)(x, labels)
  assert got.dtype == jnp.float32 and got.shape == ()
  np.testing.assert_allclose(got, ref(x, labels), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LABELLED))
def test_labelled_degenerate_labels_finite(name):
  fn, ref = LABELLED[name]
  x = _data(2)
  value_and_grad = jax.jit(jax.value_and_grad(fn))
  for labels in (np.zeros(8, np.int32), np.arange(8)):
    got, grads = value_and_grad(x, labels)
    np.testing.assert_allclose(got, ref(x, labels), atol=1e-6)
    assert np.all(np.isfinite(grads))


@pytest.mark.parametrize(
  "name",
  [
    "triplet_all",
    "contrastive_pair",
    "lifted_structured",
    "n_pairs",
    "soft_nearest_neighbor",
  ],
)
def test_labelled_grads(name):
  fn, _ = LABELLED[name]
  x = _data(3, n=6, d=3)
  labels = np.array([0, 1, 0, 1, 2, 0])
  lt.check_grads_f64(lambda e: fn(e, labels), (x,), eps=1e-5)


@pytest.mark.parametrize("name", sorted(LABELLED))
def test_labelled_bf16(name):
  fn, _ = LABELLED[name]
  lt.assert_bf16_gives_f32(
    lambda e: fn(e, LABELS), (_data(4),), rtol=0.1, atol=0.05
  )


def test_labelled_global_jit_sharded(devices):
  """Global-batch form under jit with a batch-sharded NamedSharding."""
  del devices
  x = _data(5, n=16, d=4).astype(np.float32)
  labels = np.arange(16) % 5
  w = np.eye(4, dtype=np.float32) + 0.1

  # One representative: every labelled loss un-shards rows the same way.
  for name in ("lifted_structured",):
    fn, _ = LABELLED[name]

    def make_loss(axis_name, fn=fn):
      assert axis_name is None

      def f(w, x):
        return fn(x @ w, labels)

      return f

    lt.assert_sharded_equivalent(make_loss, w, [x], shard_map_form=False)


@pytest.mark.parametrize(
  "margin,pp,eps", [(1.0, 2.0, 1e-6), (0.5, 1.0, 0.0), (2.0, 3.0, 1e-3)]
)
def test_triplet_margin_value(margin, pp, eps):
  a, p, n = np.random.default_rng(6).normal(size=(3, 6, 4))
  got = jax.jit(
    functools.partial(losses.triplet_margin, margin=margin, p=pp, eps=eps)
  )(a, p, n)
  np.testing.assert_allclose(
    got, np_triplet_margin(a, p, n, margin, pp, eps), rtol=1e-5
  )


def test_triplet_margin_grads_and_bf16():
  a, p, n = np.random.default_rng(7).normal(size=(3, 5, 3))
  lt.check_grads_f64(losses.triplet_margin, (a, p, n))
  lt.assert_bf16_gives_f32(losses.triplet_margin, (a, p, n))


def test_metric_errors():
  x = np.ones((4, 3))
  with pytest.raises(ValueError, match=r"`labels`.*\(4,\).*\(3,\)"):
    losses.triplet_all(x, np.zeros(3, np.int32))
  with pytest.raises(ValueError, match=r"`labels`.*integer.*float"):
    losses.n_pairs(x, np.zeros(4))
  with pytest.raises(ValueError, match=r"`embeddings`.*rank 2.*\(4,\)"):
    losses.contrastive_pair(np.ones(4), np.zeros(4, np.int32))
  with pytest.raises(ValueError, match=r"`anchor` and `negative`"):
    losses.triplet_margin(x, x, np.ones((4, 2)))
  with pytest.raises(ValueError, match="temperature"):
    losses.soft_nearest_neighbor(x, np.zeros(4, np.int32), temperature=0)
