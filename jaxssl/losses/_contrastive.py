"""Contrastive losses over paired embeddings: NT-Xent, InfoNCE, SupCon, CLIP,
SigLIP and noise-contrastive estimation.

Every function here scores one set of embeddings against another (in-batch
negatives, a queue, or noise samples) with a softmax or sigmoid
cross-entropy. Memory-bounded (blockwise) variants live in `_blockwise.py`;
labelled metric-learning losses live in `_metric.py`.
"""

import jax
import jax.numpy as jnp

from jaxssl.losses import _collectives, _common


def _check_temperature(temperature, name="temperature"):
  if isinstance(temperature, (int, float)) and temperature <= 0:
    raise ValueError(f"`{name}` must be > 0, got {temperature}.")


@_common.jit_loss(static=("axis_name",), positive=("temperature",))
def nt_xent(
  z1: jax.typing.ArrayLike,
  z2: jax.typing.ArrayLike,
  *,
  temperature: float = 0.1,
  axis_name: str | None = None,
) -> jax.Array:
  r"""SimCLR's NT-Xent (normalised temperature-scaled cross-entropy).

  Both views are L2-normalised; each of the 2N embeddings is an anchor whose
  positive is its pair and whose negatives are the other 2N - 2 embeddings:

    ℓ_i = -log exp(s(a_i, a_pos(i))/τ) / Σ_{j≠i} exp(s(a_i, a_j)/τ),
    loss = (1 / 2N) Σ_i ℓ_i,

  with s the cosine similarity. This is lightly's `NTXentLoss` convention
  (mean cross-entropy over the 2N anchors).

  Args:
    z1: [n, d] projections of the first view; row i pairs with `z2[i]`.
    z2: [n, d] projections of the second view.
    temperature: softmax temperature τ > 0.
    axis_name: mesh axis to gather negatives over when called inside
      `jax.shard_map` on a batch shard (n = N / devices); None when `z1`,
      `z2` are the global batch (n = N).

  Returns:
    float32 scalar: the loss averaged over the 2N anchors of the global batch.

  Raises:
    ValueError: if `z1`, `z2` are not floating [n, d] arrays of equal shape.

  References:
    Chen et al., A Simple Framework for Contrastive Learning of Visual
    Representations (SimCLR), arXiv:2002.05709.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> z1 = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    >>> z2 = jnp.array([[1.0, 0.1], [0.1, 1.0]])
    >>> print(f"{losses.nt_xent(z1, z2, temperature=0.5):.4f}")
    0.2899
  """
  z1, z2 = _common.check_pair(z1, z2)
  _check_temperature(temperature)
  n = z1.shape[0]
  z1 = _common.l2_normalize(z1)
  z2 = _common.l2_normalize(z2)
  g1 = _collectives.gather(z1, axis_name)
  g2 = _collectives.gather(z2, axis_name)
  big_n = g1.shape[0]
  anchors = jnp.concatenate([z1, z2], axis=0)  # [2n, d]
  candidates = jnp.concatenate([g1, g2], axis=0)  # [2N, d]
  logits = anchors @ candidates.T / temperature  # [2n, 2N]
  rows = jnp.arange(n) + _collectives.row_offset(n, axis_name)
  self_col = jnp.concatenate([rows, rows + big_n])
  pos_col = jnp.concatenate([rows + big_n, rows])
  cols = jnp.arange(2 * big_n)
  logits = jnp.where(cols[None, :] == self_col[:, None], -jnp.inf, logits)
  pos = jnp.take_along_axis(logits, pos_col[:, None], axis=1)[:, 0]
  per_anchor = jax.nn.logsumexp(logits, axis=1) - pos
  total = _collectives.global_sum(jnp.sum(per_anchor), axis_name)
  return total / (2 * big_n)


@_common.jit_loss(static=("axis_name",), positive=("temperature",))
def info_nce(
  query: jax.typing.ArrayLike,
  positive: jax.typing.ArrayLike,
  negatives: jax.typing.ArrayLike | None = None,
  hard_negatives: jax.typing.ArrayLike | None = None,
  *,
  temperature: float = 0.07,
  axis_name: str | None = None,
) -> jax.Array:
  r"""InfoNCE (CPC / MoCo form): classify the positive among negatives.

  Scores are plain dot products divided by τ (normalise in the model, as
  MoCo does, if cosine similarities are wanted):

    ℓ_i = -log exp(q_i·k_i⁺/τ) / (exp(q_i·k_i⁺/τ) + Σ_j exp(q_i·k_j⁻/τ)),
    loss = (1 / N) Σ_i ℓ_i.

  Negatives are, depending on `negatives`:
    * None: in-batch, the other rows of `positive` (the global batch:
      gathered over `axis_name` inside shard_map);
    * [k, d]: shared by every query, e.g. a MoCo queue;
    * [n, k, d]: k negatives per query.

  With `hard_negatives` [n, d] (and `negatives` None), row j of it is one
  more in-batch key: every query is scored against all N positives and all
  N hard negatives of the global batch, supervised SimCSE's objective

    ℓ_i = -log exp(q_i·k_i⁺/τ) / Σ_j (exp(q_i·k_j⁺/τ) + exp(q_i·k_j⁻/τ)).

  MoCo v3's 2τ scaling and the symmetric use belong to the method.

  Args:
    query: [n, d] queries.
    positive: [n, d] keys; row i is the positive of `query[i]`.
    negatives: None, [k, d] or [n, k, d] negative keys.
    hard_negatives: None or [n, d] in-batch negative keys, row i paired with
      `query[i]` (an NLI contradiction), gathered over `axis_name` like
      `positive`; only with `negatives` None.
    temperature: softmax temperature τ > 0.
    axis_name: mesh axis when called inside `jax.shard_map` on a batch shard;
      None when the inputs are the global batch. A shared [k, d] queue is
      replicated, not sharded.

  Returns:
    float32 scalar: the cross-entropy averaged over the N global queries.

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    van den Oord et al., Representation Learning with Contrastive Predictive
    Coding, arXiv:1807.03748; He et al., Momentum Contrast for Unsupervised
    Visual Representation Learning, arXiv:1911.05722; Gao, Yao and Chen,
    SimCSE: Simple Contrastive Learning of Sentence Embeddings,
    arXiv:2104.08821 (hard negatives, Eq. 5).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> q = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    >>> print(f"{losses.info_nce(q, q, temperature=1.0):.4f}")
    0.3133
    >>> queue = jnp.array([[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]])
    >>> print(f"{losses.info_nce(q, q, queue, temperature=1.0):.4f}")
    0.9176
    >>> hard = losses.info_nce(q, q, hard_negatives=-q, temperature=1.0)
    >>> print(f"{hard:.4f}")
    0.6265
  """
  query, positive = _common.check_pair(query, positive, ("query", "positive"))
  _check_temperature(temperature)
  n = query.shape[0]
  if hard_negatives is not None:
    if negatives is not None:
      raise ValueError(
        "`hard_negatives` (in-batch keys) and `negatives` (a queue or "
        "per-query keys) exclude each other."
      )
    _, hard_negatives = _common.check_pair(
      query, hard_negatives, ("query", "hard_negatives")
    )
  if negatives is None:
    keys = _collectives.gather(positive, axis_name)  # [N, d]
    if hard_negatives is not None:
      hard = _collectives.gather(hard_negatives.astype(keys.dtype), axis_name)
      keys = jnp.concatenate([keys, hard])  # [2N, d]
    logits = query @ keys.T / temperature  # [n, N] or [n, 2N]
    labels = jnp.arange(n) + _collectives.row_offset(n, axis_name)
    pos = jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
    per_query = jax.nn.logsumexp(logits, axis=1) - pos
  else:
    negatives = _common.as_float(negatives, "negatives")
    _common.check_rank(negatives, (2, 3), "negatives")
    if negatives.shape[-1] != query.shape[-1] or (
      negatives.ndim == 3 and negatives.shape[0] != n
    ):
      raise ValueError(
        "`negatives` must be [k, d] or [n, k, d] matching `query` "
        f"{tuple(query.shape)}, got shape {tuple(negatives.shape)}."
      )
    pos = jnp.sum(query * positive, axis=-1) / temperature  # [n]
    if negatives.ndim == 2:
      neg = query @ negatives.astype(query.dtype).T / temperature  # [n, k]
    else:
      neg = (
        jnp.einsum("nd,nkd->nk", query, negatives.astype(query.dtype))
        / temperature
      )
    logits = jnp.concatenate([pos[:, None], neg], axis=1)
    per_query = jax.nn.logsumexp(logits, axis=1) - pos
  total = _collectives.global_sum(jnp.sum(per_query), axis_name)
  return total / (n * _collectives.axis_size(axis_name))


@_common.jit_loss(positive=("temperature",))
def supcon(
  features: jax.typing.ArrayLike,
  labels: jax.typing.ArrayLike | None = None,
  *,
  temperature: float = 0.1,
) -> jax.Array:
  r"""Supervised contrastive loss (SupCon, L_out) over several views.

  All n·v views are L2-normalised anchors. For anchor i with positives P(i)
  (every other view with the same label; with `labels=None`, only the other
  views of the same example) and A(i) all other views:

    ℓ_i = -(1/|P(i)|) Σ_{p∈P(i)} log exp(s_ip/τ) / Σ_{a∈A(i)} exp(s_ia/τ),
    loss = mean_i ℓ_i  (anchors with no positive contribute 0).

  With `labels=None` and v = 2 this equals `nt_xent`. Unlike the official
  code there is no extra τ / base_temperature factor, so that the
  unsupervised case is SimCLR exactly.

  Args:
    features: [n, v, d] embeddings of v views of n examples.
    labels: optional [n] integer class labels.
    temperature: softmax temperature τ > 0.

  Returns:
    float32 scalar: the loss averaged over the n·v anchors.

  Raises:
    ValueError: if `features` is not [n, v, d] or `labels` is not [n].

  References:
    Khosla et al., Supervised Contrastive Learning, arXiv:2004.11362.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> f = jnp.array([[[1.0, 0.0], [1.0, 0.1]], [[0.0, 1.0], [0.1, 1.0]]])
    >>> print(f"{losses.supcon(f, jnp.array([0, 1]), temperature=0.5):.4f}")
    0.2899
  """
  features = _common.as_float(features, "features")
  _common.check_rank(features, 3, "features")
  _check_temperature(temperature)
  n, v, _ = features.shape
  if labels is None:
    labels = jnp.arange(n)
  labels = _common.check_labels(labels, n)
  z = _common.l2_normalize(features).reshape(n * v, -1)  # example-major
  row_labels = jnp.repeat(labels, v)
  logits = z @ _collectives.unshard_rows(z).T / temperature  # [nv, nv]
  is_self = jnp.eye(n * v, dtype=bool)
  logits = jnp.where(is_self, -jnp.inf, logits)
  log_prob = logits - jax.nn.logsumexp(logits, axis=1, keepdims=True)
  col_labels = _collectives.unshard_rows(row_labels)
  is_pos = (row_labels[:, None] == col_labels[None, :]) & ~is_self
  num_pos = jnp.sum(is_pos, axis=1)
  pos_log_prob = jnp.sum(jnp.where(is_pos, log_prob, 0.0), axis=1)
  per_anchor = -pos_log_prob / jnp.maximum(num_pos, 1)
  return jnp.mean(per_anchor)


@_common.jit_loss()
def clip(
  image_emb: jax.typing.ArrayLike,
  text_emb: jax.typing.ArrayLike,
  *,
  logit_scale: jax.typing.ArrayLike,
) -> jax.Array:
  r"""CLIP's symmetric cross-entropy over image-text similarities.

    L = logit_scale · X Yᵀ,
    loss = ½ (CE(L, diag) over rows + CE(Lᵀ, diag) over rows) / N.

  No re-normalisation happens inside: pass L2-normalised embeddings, and
  `logit_scale` as the multiplier itself (CLIP learns `log` of it: pass
  `exp(log_scale)`).

  Args:
    image_emb: [N, d] image embeddings; row i pairs with `text_emb[i]`.
    text_emb: [N, d] text embeddings.
    logit_scale: scalar multiplier of the similarities (may be traced).

  Returns:
    float32 scalar: the mean of the image->text and text->image losses.

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    Radford et al., Learning Transferable Visual Models From Natural Language
    Supervision, arXiv:2103.00020.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    >>> print(f"{losses.clip(x, x, logit_scale=10.0):.5f}")
    0.00005
  """
  x, y = _common.check_pair(image_emb, text_emb, ("image_emb", "text_emb"))
  scale = jnp.asarray(logit_scale, x.dtype)
  logits = scale * (x @ _collectives.unshard_rows(y).T)  # [N, N]
  diag = scale * jnp.sum(x * y, axis=1)  # the matched pairs
  rows = jax.nn.logsumexp(logits, axis=1) - diag
  cols = jax.nn.logsumexp(logits, axis=0) - diag
  return 0.5 * (jnp.mean(rows) + jnp.mean(cols))


@_common.jit_loss()
def siglip(
  image_emb: jax.typing.ArrayLike,
  text_emb: jax.typing.ArrayLike,
  *,
  t: jax.typing.ArrayLike,
  b: jax.typing.ArrayLike,
) -> jax.Array:
  r"""SigLIP's pairwise sigmoid loss.

    loss = -(1/N) Σ_i Σ_j log σ(z_ij (t x_i·y_j + b)),
    z_ij = +1 if i = j else -1.

  Args:
    image_emb: [N, d] (L2-normalised) image embeddings.
    text_emb: [N, d] (L2-normalised) text embeddings; row i pairs with row i.
    t: scalar temperature multiplier (the paper learns t' with t = exp(t')).
    b: scalar bias (the paper initialises it to -10).

  Returns:
    float32 scalar: the summed pair losses divided by the batch size N.

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    Zhai et al., Sigmoid Loss for Language Image Pre-Training,
    arXiv:2303.15343.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    >>> print(f"{losses.siglip(x, x, t=10.0, b=-5.0):.4f}")
    0.0134
  """
  x, y = _common.check_pair(image_emb, text_emb, ("image_emb", "text_emb"))
  y = _collectives.unshard_rows(y)
  big_n = x.shape[0]
  logits = jnp.asarray(t, x.dtype) * (x @ y.T) + jnp.asarray(
    b, x.dtype
  )  # [N, N]
  signs = 2.0 * jnp.eye(big_n, dtype=x.dtype) - 1.0
  return -jnp.sum(jax.nn.log_sigmoid(signs * logits)) / big_n


@_common.jit_loss()
def noise_contrastive(
  data_logits: jax.typing.ArrayLike,
  noise_logits: jax.typing.ArrayLike,
) -> jax.Array:
  r"""Noise-contrastive estimation: logistic data-vs-noise discrimination.

  The logits are G(u) = log p_model(u) - log(ν p_noise(u)), with ν the number
  of noise samples per data sample (the caller includes log ν). With T_d data
  samples x_t and T_n = ν T_d noise samples y_t, this is minus the paper's
  objective J_T:

    loss = -(1/T_d) [Σ_t log σ(G(x_t)) + Σ_t log σ(-G(y_t))].

  Args:
    data_logits: [...] logits of the data samples (any shape, T_d entries).
    noise_logits: [...] logits of the noise samples (any shape, T_n entries).

  Returns:
    float32 scalar.

  Raises:
    ValueError: if either input is not a floating array.

  References:
    Gutmann & Hyvärinen, Noise-contrastive estimation: A new estimation
    principle for unnormalized statistical models, AISTATS 2010 (no arXiv);
    see also Mnih & Teh, arXiv:1206.6426.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> loss = losses.noise_contrastive(jnp.array([0.0]), jnp.array([0.0]))
    >>> print(f"{loss:.4f}")
    1.3863
  """
  data_logits = _common.as_float(data_logits, "data_logits")
  noise_logits = _common.as_float(noise_logits, "noise_logits")
  if data_logits.size == 0:
    raise ValueError(
      f"`data_logits` must not be empty, got shape {tuple(data_logits.shape)}."
    )
  total = jnp.sum(jax.nn.log_sigmoid(data_logits)) + jnp.sum(
    jax.nn.log_sigmoid(-noise_logits)
  )
  return -total / data_logits.size
