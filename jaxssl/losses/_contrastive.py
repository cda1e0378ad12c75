"""Contrastive losses over paired embeddings: NT-Xent, InfoNCE, SupCon, CLIP,
SigLIP and noise-contrastive estimation.

Every function here scores one set of embeddings against another (in-batch
negatives, a queue, or noise samples) with a softmax or sigmoid
cross-entropy. Memory-bounded (blockwise) variants live in `_blockwise.py`;
labelled metric-learning losses live in `_metric.py`.
"""

import jax
import jax.numpy as jnp

from jaxssl.losses import _collectives
from jaxssl.losses import _common


def _check_pair(z1, z2, names=("z1", "z2")):
  z1 = _common.as_float(z1, names[0])
  z2 = _common.as_float(z2, names[1])
  _common.check_rank(z1, 2, names[0])
  _common.check_rank(z2, 2, names[1])
  _common.check_same_shape(z1, z2, *names)
  dtype = jnp.promote_types(z1.dtype, z2.dtype)
  return z1.astype(dtype), z2.astype(dtype)


def _check_temperature(temperature, name="temperature"):
  if isinstance(temperature, (int, float)) and temperature <= 0:
    raise ValueError(f"`{name}` must be > 0, got {temperature}.")


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
  z1, z2 = _check_pair(z1, z2)
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
