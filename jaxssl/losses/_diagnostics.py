"""Diagnostics that sit next to the losses: small pure functions a method
puts in its metrics dict (positive-pair accuracy, embedding spread,
prediction entropies). They never enter the loss and carry no gradient.

Each follows the loss convention for `axis_name`: None means the inputs are
the global batch; inside `jax.shard_map` pass the batch axis name.
"""

import jax
import jax.numpy as jnp

from jaxssl.losses import _collectives, _common


@_common.jit_loss(static=("axis_name",))
def contrastive_accuracy(
  z1: jax.typing.ArrayLike,
  z2: jax.typing.ArrayLike,
  *,
  axis_name: str | None = None,
) -> jax.Array:
  """Top-1 positive-pair accuracy of the NT-Xent task.

  For each of the 2N (cosine-normalised) embeddings, whether its pair is the
  most similar of the other 2N - 1.

  Args:
    z1: [n, d] projections of the first view.
    z2: [n, d] projections of the second view.
    axis_name: mesh axis inside `jax.shard_map`; None for the global batch.

  Returns:
    float32 scalar in [0, 1].

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> z = jnp.eye(3)
    >>> print(losses.contrastive_accuracy(z, z + 0.1))
    1.0
  """
  z1, z2 = _common.check_pair(z1, z2)
  z1 = jax.lax.stop_gradient(_common.l2_normalize(z1))
  z2 = jax.lax.stop_gradient(_common.l2_normalize(z2))
  n = z1.shape[0]
  candidates = jnp.concatenate(
    [_collectives.gather(z1, axis_name), _collectives.gather(z2, axis_name)]
  )
  big_n = candidates.shape[0] // 2
  sim = jnp.concatenate([z1, z2]) @ candidates.T  # [2n, 2N]
  rows = jnp.arange(n) + _collectives.row_offset(n, axis_name)
  self_col = jnp.concatenate([rows, rows + big_n])
  pos_col = jnp.concatenate([rows + big_n, rows])
  cols = jnp.arange(2 * big_n)
  sim = jnp.where(cols[None, :] == self_col[:, None], -jnp.inf, sim)
  hits = jnp.sum(jnp.argmax(sim, axis=1) == pos_col)
  return (_collectives.global_sum(hits, axis_name) / (2 * big_n)).astype(
    jnp.float32
  )


@_common.jit_loss(static=("axis_name",))
def embedding_std(
  z: jax.typing.ArrayLike,
  *,
  axis_name: str | None = None,
) -> jax.Array:
  """Mean per-dimension std of L2-normalised embeddings (collapse monitor).

  SimSiam's diagnostic: about 1/sqrt(d) for well-spread embeddings, 0 when
  every sample maps to the same point.

  Args:
    z: [n, d] embeddings.
    axis_name: mesh axis inside `jax.shard_map`; None for the global batch.

  Returns:
    float32 scalar.

  References:
    Chen & He, Exploring Simple Siamese Representation Learning,
    arXiv:2011.10566.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> print(losses.embedding_std(jnp.ones((4, 3))))
    0.0
  """
  z = _common.as_float(z, "z")
  _common.check_rank(z, 2, "z")
  z = jax.lax.stop_gradient(_common.l2_normalize(z))
  mean = _collectives.global_mean(z, axis_name)
  var = _collectives.global_mean((z - mean) ** 2, axis_name)
  return jnp.mean(jnp.sqrt(var))


@_common.jit_loss(positive=("temperature",))
def mean_entropy(
  logits: jax.typing.ArrayLike,
  *,
  temperature: float = 1.0,
) -> jax.Array:
  """Mean entropy (nats) of softmax(logits / τ) over all leading axes.

  Low values mean confident (possibly collapsed-to-one-hot) predictions; for
  DINO compare with `marginal_entropy`.

  Args:
    logits: [..., k] logits.
    temperature: τ > 0.

  Returns:
    float32 scalar in [0, log k].

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> print(f"{losses.mean_entropy(jnp.zeros((2, 4))):.4f}")
    1.3863
  """
  logits = _common.as_float(logits, "logits")
  log_p = jax.nn.log_softmax(jax.lax.stop_gradient(logits) / temperature, -1)
  return jnp.mean(-jnp.sum(jnp.exp(log_p) * log_p, axis=-1))


@_common.jit_loss(static=("axis_name",), positive=("temperature",))
def marginal_entropy(
  logits: jax.typing.ArrayLike,
  *,
  temperature: float = 1.0,
  axis_name: str | None = None,
) -> jax.Array:
  """Entropy (nats) of the batch-mean prediction softmax(logits / τ).

  Near 0 when every sample predicts the same class (DINO's collapse to one
  dimension); near log k when predictions use all k outputs.

  Args:
    logits: [n, k] logits (batch first).
    temperature: τ > 0.
    axis_name: mesh axis inside `jax.shard_map`; None for the global batch.

  Returns:
    float32 scalar in [0, log k].

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> print(f"{losses.marginal_entropy(jnp.eye(4) * 50.0):.4f}")
    1.3863
  """
  logits = _common.as_float(logits, "logits")
  _common.check_rank(logits, 2, "logits")
  p = jax.nn.softmax(jax.lax.stop_gradient(logits) / temperature, axis=-1)
  mean_p = _collectives.global_mean(p, axis_name)
  return -jnp.sum(mean_p * jnp.log(jnp.maximum(mean_p, 1e-30)))
