"""Metric-learning losses: explicit triplets and labelled batches.

`triplet_margin` follows `torch.nn.TripletMarginLoss`. The labelled-batch
losses follow pytorch-metric-learning's defaults: embeddings are
L2-normalised first, every valid pair/triplet is formed from the labels (no
miner), and each loss uses that library's default distance and reducer.
All masks are static [n, n] or [n, n, n] arrays, so the functions jit with no
data-dependent shapes.
"""

import jax
import jax.numpy as jnp

from jaxssl.losses import _collectives, _common


def _check_labelled(embeddings, labels):
  embeddings = _common.as_float(embeddings, "embeddings")
  _common.check_rank(embeddings, 2, "embeddings")
  labels = _common.check_labels(labels, embeddings.shape[0])
  # Pairwise [n, n] terms need whole rows on each device (Explicit meshes).
  embeddings = _collectives.unshard_rows(embeddings)
  labels = _collectives.unshard_rows(labels)
  return _common.l2_normalize(embeddings), labels


def _pair_masks(labels):
  same = labels[:, None] == labels[None, :]
  is_self = jnp.eye(labels.shape[0], dtype=bool)
  return same & ~is_self, ~same


def _safe_sqrt(x):
  # sqrt with a finite (zero) gradient at 0: identical embeddings happen.
  is_pos = x > 0
  return jnp.where(is_pos, jnp.sqrt(jnp.where(is_pos, x, 1.0)), 0.0)


def _euclidean(x):
  """[n, n] Euclidean distances of the rows of `x` (Gram form)."""
  sq = jnp.sum(x * x, axis=1)
  d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
  return _safe_sqrt(jnp.maximum(d2, 0.0))


def _avg_non_zero(losses, valid):
  """pytorch-metric-learning's AvgNonZeroReducer over `valid` entries."""
  losses = jnp.where(valid, losses, 0.0)
  count = jnp.sum(losses > 0)
  return jnp.sum(losses) / jnp.maximum(count, 1)


@_common.jit_loss(static=("p",))
def triplet_margin(
  anchor: jax.typing.ArrayLike,
  positive: jax.typing.ArrayLike,
  negative: jax.typing.ArrayLike,
  *,
  margin: float = 1.0,
  p: float = 2.0,
  eps: float = 1e-6,
) -> jax.Array:
  r"""Triplet margin loss, as `torch.nn.TripletMarginLoss` (swap=False).

    d(x, y) = ‖x - y + eps‖_p,
    loss = mean_i max(d(a_i, p_i) - d(a_i, n_i) + margin, 0).

  No normalisation is applied to the inputs.

  Args:
    anchor: [n, d] anchors.
    positive: [n, d] positives.
    negative: [n, d] negatives.
    margin: the margin.
    p: the norm degree (> 0).
    eps: added to the difference before the norm, as torch does.

  Returns:
    float32 scalar: the mean over the n triplets.

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    Schroff et al., FaceNet: A Unified Embedding for Face Recognition and
    Clustering, arXiv:1503.03832.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> a = jnp.array([[0.0, 0.0]])
    >>> print(f"{losses.triplet_margin(a, a + 1.0, a + 0.5):.4f}")
    1.7071
  """
  arrays = []
  for name, x in (
    ("anchor", anchor),
    ("positive", positive),
    ("negative", negative),
  ):
    x = _common.as_float(x, name)
    _common.check_rank(x, 2, name)
    arrays.append(x)
  a, pos, neg = arrays
  _common.check_same_shape(a, pos, "anchor", "positive")
  _common.check_same_shape(a, neg, "anchor", "negative")
  if p <= 0:
    raise ValueError(f"`p` must be > 0, got {p}.")

  def dist(x, y):
    diff = x - y + eps
    if p == 2.0:
      return _safe_sqrt(jnp.sum(diff * diff, axis=-1))
    return jnp.sum(jnp.abs(diff) ** p, axis=-1) ** (1.0 / p)

  return jnp.mean(jax.nn.relu(dist(a, pos) - dist(a, neg) + margin))


@_common.jit_loss()
def triplet_all(
  embeddings: jax.typing.ArrayLike,
  labels: jax.typing.ArrayLike,
  *,
  margin: float = 0.2,
) -> jax.Array:
  r"""Triplet loss over every valid triplet of a labelled batch.

  With x L2-normalised and d the Euclidean distance, over all (a, p, n) with
  y_a = y_p, a ≠ p and y_n ≠ y_a:

    ℓ_apn = max(d(x_a, x_p) - d(x_a, x_n) + margin, 0),
    loss = Σ ℓ_apn / #{ℓ_apn > 0}  (0 when no triplet is active).

  This is pytorch-metric-learning's `TripletMarginLoss` with
  `triplets_per_anchor="all"` and its AvgNonZeroReducer.

  Args:
    embeddings: [n, d] embeddings (normalised inside).
    labels: [n] integer labels.
    margin: the margin.

  Returns:
    float32 scalar.

  Raises:
    ValueError: on wrong ranks or label shape.

  References:
    Schroff et al., FaceNet, arXiv:1503.03832; Hermans et al., In Defense of
    the Triplet Loss for Person Re-Identification, arXiv:1703.07737.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> x = jnp.array([[1.0, 0.0], [1.0, 0.2], [0.0, 1.0]])
    >>> print(f"{losses.triplet_all(x, jnp.array([0, 0, 1]), margin=2.0):.4f}")
    0.8560
  """
  x, labels = _check_labelled(embeddings, labels)
  dist = _euclidean(x)
  is_pos, is_neg = _pair_masks(labels)
  valid = is_pos[:, :, None] & is_neg[:, None, :]  # [a, p, n]
  per_triplet = jax.nn.relu(dist[:, :, None] - dist[:, None, :] + margin)
  return _avg_non_zero(per_triplet, valid)


@_common.jit_loss()
def contrastive_pair(
  embeddings: jax.typing.ArrayLike,
  labels: jax.typing.ArrayLike,
  *,
  pos_margin: float = 0.0,
  neg_margin: float = 1.0,
) -> jax.Array:
  r"""Pair-based contrastive loss (Hadsell et al.) over a labelled batch.

  With x L2-normalised and d the Euclidean distance, over ordered pairs i ≠ j:

    pos = AvgNonZero_{y_i = y_j} max(d_ij - pos_margin, 0),
    neg = AvgNonZero_{y_i ≠ y_j} max(neg_margin - d_ij, 0),
    loss = pos + neg,

  where AvgNonZero divides the sum by the number of non-zero terms (0 if
  none), as pytorch-metric-learning's `ContrastiveLoss`.

  Args:
    embeddings: [n, d] embeddings (normalised inside).
    labels: [n] integer labels.
    pos_margin: distance below which positive pairs cost nothing.
    neg_margin: distance above which negative pairs cost nothing.

  Returns:
    float32 scalar.

  Raises:
    ValueError: on wrong ranks or label shape.

  References:
    Hadsell, Chopra & LeCun, Dimensionality Reduction by Learning an
    Invariant Mapping, CVPR 2006 (no arXiv).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> x = jnp.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> print(f"{losses.contrastive_pair(x, jnp.array([0, 0, 1])):.4f}")
    1.2620
  """
  x, labels = _check_labelled(embeddings, labels)
  dist = _euclidean(x)
  is_pos, is_neg = _pair_masks(labels)
  pos = _avg_non_zero(jax.nn.relu(dist - pos_margin), is_pos)
  neg = _avg_non_zero(jax.nn.relu(neg_margin - dist), is_neg)
  return pos + neg


@_common.jit_loss()
def lifted_structured(
  embeddings: jax.typing.ArrayLike,
  labels: jax.typing.ArrayLike,
  *,
  neg_margin: float = 1.0,
  pos_margin: float = 0.0,
) -> jax.Array:
  r"""Lifted structured loss over a labelled batch.

  With x L2-normalised and d the Euclidean distance, for every ordered
  positive pair (i, j) (y_i = y_j, i ≠ j), over the negatives N(i) ∪ N(j) of
  both ends:

    J_ij = log Σ_{(a,k): a∈{i,j}, y_k≠y_a} exp(neg_margin - d_ak)
           + d_ij - pos_margin,
    loss = mean_{(i,j)} max(J_ij, 0)² / 2.

  This is pytorch-metric-learning's `LiftedStructureLoss` (MeanReducer over
  positive pairs; the /2 because each pair appears in both orders).

  Args:
    embeddings: [n, d] embeddings (normalised inside).
    labels: [n] integer labels.
    neg_margin: margin of the negative term.
    pos_margin: margin of the positive term.

  Returns:
    float32 scalar (0 without any positive pair).

  Raises:
    ValueError: on wrong ranks or label shape.

  References:
    Oh Song et al., Deep Metric Learning via Lifted Structured Feature
    Embedding, arXiv:1511.06452.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> x = jnp.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> y = jnp.array([0, 0, 1])
    >>> print(f"{losses.lifted_structured(x, y):.4f}")
    1.3428
  """
  x, labels = _check_labelled(embeddings, labels)
  dist = _euclidean(x)
  is_pos, is_neg = _pair_masks(labels)
  # Per anchor a: log Σ_k∈N(a) exp(neg_margin - d_ak), -inf if no negative.
  neg_terms = jnp.where(is_neg, neg_margin - dist, -jnp.inf)
  lse_a = jax.nn.logsumexp(neg_terms, axis=1)  # [n]
  # Union over both ends of the pair: logaddexp of the per-anchor sums.
  has_neg = jnp.any(is_neg, axis=1)
  lse_pair = jnp.logaddexp(
    jnp.where(has_neg, lse_a, -jnp.inf)[:, None],
    jnp.where(has_neg, lse_a, -jnp.inf)[None, :],
  )
  any_neg = has_neg[:, None] | has_neg[None, :]
  lse_pair = jnp.where(any_neg, lse_pair, 0.0)  # PML: 0 when no negative
  per_pair = jax.nn.relu(lse_pair + dist - pos_margin) ** 2 / 2.0
  num_pos = jnp.sum(is_pos)
  total = jnp.sum(jnp.where(is_pos, per_pair, 0.0))
  return total / jnp.maximum(num_pos, 1)


@_common.jit_loss()
def n_pairs(
  embeddings: jax.typing.ArrayLike,
  labels: jax.typing.ArrayLike,
) -> jax.Array:
  r"""Multi-class N-pair loss over a labelled batch.

  For each class c with at least two members, its anchor a_c is the first
  member (lowest index) and its positive p_c the second. With x
  L2-normalised, over the C such classes:

    loss = (1/C) Σ_c -log exp(x_{a_c}·x_{p_c}) / Σ_{c'} exp(x_{a_c}·x_{p_c'}),

  which is pytorch-metric-learning's `NPairsLoss` (cosine similarity, one
  pair per unique label, cross-entropy averaged over the pairs).

  Args:
    embeddings: [n, d] embeddings (normalised inside).
    labels: [n] integer labels.

  Returns:
    float32 scalar (0 when no class has two members).

  Raises:
    ValueError: on wrong ranks or label shape.

  References:
    Sohn, Improved Deep Metric Learning with Multi-class N-pair Loss
    Objective, NeurIPS 2016 (no arXiv).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> x = jnp.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    >>> print(f"{losses.n_pairs(x, jnp.array([0, 0, 1, 1])):.4f}")
    0.3424
  """
  x, labels = _check_labelled(embeddings, labels)
  n = labels.shape[0]
  idx = jnp.arange(n)
  same = labels[:, None] == labels[None, :]
  earlier = idx[None, :] < idx[:, None]  # [i, j]: j < i
  later = ~earlier & ~jnp.eye(n, dtype=bool)  # j > i
  is_first = ~jnp.any(same & earlier, axis=1)
  has_later = jnp.any(same & later, axis=1)
  is_anchor = is_first & has_later  # one anchor per class with >= 2 members
  # Positive of anchor i: the smallest j > i with the same label.
  positive = jnp.argmax(same & later, axis=1)
  sim = x @ x[positive].T  # [anchor i, positive of anchor j]
  sim = jnp.where(is_anchor[None, :], sim, -jnp.inf)
  per_anchor = jax.nn.logsumexp(sim, axis=1) - jnp.diagonal(sim)
  per_anchor = jnp.where(is_anchor, per_anchor, 0.0)
  return jnp.sum(per_anchor) / jnp.maximum(jnp.sum(is_anchor), 1)


@_common.jit_loss(positive=("temperature",))
def soft_nearest_neighbor(
  embeddings: jax.typing.ArrayLike,
  labels: jax.typing.ArrayLike,
  *,
  temperature: float,
) -> jax.Array:
  r"""Soft nearest neighbour loss (Frosst et al. 2019).

  With x L2-normalised (the convention of this module) and squared Euclidean
  distances:

    ℓ_i = -log Σ_{j≠i, y_j=y_i} exp(-‖x_i-x_j‖²/T) / Σ_{k≠i} exp(-‖x_i-x_k‖²/T),
    loss = mean over the anchors that have at least one same-label partner.

  Args:
    embeddings: [n, d] embeddings (normalised inside).
    labels: [n] integer labels.
    temperature: T > 0.

  Returns:
    float32 scalar (0 when no anchor has a same-label partner).

  Raises:
    ValueError: on wrong ranks, label shape or temperature.

  References:
    Frosst, Papernot & Hinton, Analyzing and Improving Representations with
    the Soft Nearest Neighbor Loss, arXiv:1902.01889.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> x = jnp.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    >>> y = jnp.array([0, 0, 1, 1])
    >>> print(f"{losses.soft_nearest_neighbor(x, y, temperature=1.0):.4f}")
    0.2899
  """
  x, labels = _check_labelled(embeddings, labels)
  if isinstance(temperature, (int, float)) and temperature <= 0:
    raise ValueError(f"`temperature` must be > 0, got {temperature}.")
  sq = jnp.sum(x * x, axis=1)
  d2 = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
  logits = -d2 / temperature
  is_pos, _ = _pair_masks(labels)
  is_self = jnp.eye(labels.shape[0], dtype=bool)
  lse_all = jax.nn.logsumexp(jnp.where(is_self, -jnp.inf, logits), axis=1)
  lse_pos = jax.nn.logsumexp(jnp.where(is_pos, logits, -jnp.inf), axis=1)
  has_pos = jnp.any(is_pos, axis=1)
  per_anchor = jnp.where(
    has_pos, lse_all - jnp.where(has_pos, lse_pos, 0.0), 0.0
  )
  return jnp.sum(per_anchor) / jnp.maximum(jnp.sum(has_pos), 1)
