"""Online clustering: SwAV's Sinkhorn-Knopp equipartition and swapped
prediction loss.

Codes are computed over the global batch: with `axis_name` the column
normalisations of Sinkhorn-Knopp reduce over the mesh axis, as SwAV's
`distributed_sinkhorn` does with all_reduce.
"""

import math

import jax
import jax.numpy as jnp

from jaxssl.losses import _collectives, _common


def _global_logsumexp(x, axis_name):
  """logsumexp over axis 0 of the global batch ([n, k] -> [k])."""
  m = jax.lax.stop_gradient(jnp.max(x, axis=0))
  if axis_name is not None:
    m = jax.lax.pmax(m, axis_name)
  m = jnp.where(jnp.isfinite(m), m, 0.0)
  s = _collectives.global_sum(jnp.sum(jnp.exp(x - m), axis=0), axis_name)
  return m + jnp.log(s)


@_common.jit_loss(static=("iterations", "axis_name"), positive=("epsilon",))
def sinkhorn(
  scores: jax.typing.ArrayLike,
  *,
  epsilon: float = 0.05,
  iterations: int = 3,
  axis_name: str | None = None,
) -> jax.Array:
  r"""SwAV's Sinkhorn-Knopp codes: equipartition of N samples over k
  prototypes.

  Starting from Q = exp(scores / ε) ([N, k]), each iteration rescales the
  prototype columns to sum to 1/k and then the sample rows to sum to 1/N;
  the result is multiplied by N so each row sums to 1:

    Q ← Q / (k Σ_i Q_i·),  Q ← Q / (N Σ_c Q·c)   (`iterations` times).

  Computed in the log domain (identical result, no overflow for small ε).
  The function is differentiable; SwAV stops the gradient of its codes
  (`swav` does).

  Args:
    scores: [n, k] prototype scores of this shard (the global batch when
      `axis_name` is None).
    epsilon: entropic regularisation ε > 0.
    iterations: number of Sinkhorn-Knopp iterations (Python int).
    axis_name: mesh axis over which the batch is sharded inside
      `jax.shard_map`; column sums are then global.

  Returns:
    float32 [n, k] codes; each row sums to 1.

  Raises:
    ValueError: if `scores` is not [n, k] or `iterations` < 1.

  References:
    Caron et al., Unsupervised Learning of Visual Features by Contrasting
    Cluster Assignments (SwAV), arXiv:2006.09882; Cuturi, Sinkhorn
    Distances, arXiv:1306.0895.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> codes = losses.sinkhorn(jnp.array([[1.0, 0.9], [1.0, 0.8]]))
    >>> print(" ".join(f"{c:.2f}" for c in codes.ravel()))
    0.27 0.73 0.73 0.27
  """
  scores = _common.as_float(scores, "scores")
  _common.check_rank(scores, 2, "scores")
  if iterations < 1:
    raise ValueError(f"`iterations` must be >= 1, got {iterations}.")
  n, k = scores.shape
  big_n = n * _collectives.axis_size(axis_name)
  log_q = scores / epsilon
  for _ in range(iterations):
    log_q = log_q - _global_logsumexp(log_q, axis_name) - math.log(k)
    log_q = (
      log_q - jax.nn.logsumexp(log_q, axis=1, keepdims=True) - math.log(big_n)
    )
  return jnp.exp(log_q + math.log(big_n))


@_common.jit_loss(
  static=("iterations", "axis_name"), positive=("temperature", "epsilon")
)
def swav(
  high_res: jax.typing.ArrayLike,
  low_res: jax.typing.ArrayLike,
  *,
  temperature: float = 0.1,
  epsilon: float = 0.05,
  iterations: int = 3,
  axis_name: str | None = None,
) -> jax.Array:
  r"""SwAV's swapped-prediction loss over multi-crop prototype scores.

  Codes q_a = sinkhorn(scores_a) come from each high-resolution view a with
  no gradient; every other view b (high or low resolution, V views in all)
  predicts them with p_b = softmax(scores_b / τ):

    loss = (1/V_h) Σ_a (1/(V-1)) Σ_{b≠a} mean_i [-Σ_c q_a,ic log p_b,ic].

  Args:
    high_res: [v_h, n, k] prototype scores of the high-resolution views.
    low_res: [v_l, n, k] prototype scores of the low-resolution views
      (v_l may be 0).
    temperature: softmax temperature τ of the predictions.
    epsilon: Sinkhorn ε.
    iterations: Sinkhorn iterations.
    axis_name: mesh axis of the batch inside `jax.shard_map` (sharded along
      n); None when the inputs are the global batch.

  Returns:
    float32 scalar.

  Raises:
    ValueError: on wrong ranks, mismatched shapes or fewer than 2 views.

  References:
    Caron et al., Unsupervised Learning of Visual Features by Contrasting
    Cluster Assignments (SwAV), arXiv:2006.09882.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> hi = jnp.array([[[1.0, 0.0], [0.0, 1.0]], [[0.9, 0.1], [0.1, 0.9]]])
    >>> lo = jnp.zeros((0, 2, 2))
    >>> print(f"{losses.swav(hi, lo):.4f}")
    0.0002
  """
  high_res = _common.as_float(high_res, "high_res")
  low_res = _common.as_float(low_res, "low_res")
  _common.check_rank(high_res, 3, "high_res")
  _common.check_rank(low_res, 3, "low_res")
  if high_res.shape[1:] != low_res.shape[1:]:
    raise ValueError(
      "`high_res` and `low_res` must agree on [n, k], got shapes "
      f"{tuple(high_res.shape)} and {tuple(low_res.shape)}."
    )
  v_h = high_res.shape[0]
  views = jnp.concatenate([high_res, low_res.astype(high_res.dtype)])
  v = views.shape[0]
  if v_h < 1 or v < 2:
    raise ValueError(
      "`swav` needs >= 1 high-res view and >= 2 views, got "
      f"shapes {tuple(high_res.shape)}, {tuple(low_res.shape)}."
    )
  n = views.shape[1]
  big_n = n * _collectives.axis_size(axis_name)
  codes = jax.vmap(
    lambda s: sinkhorn(
      jax.lax.stop_gradient(s),
      epsilon=epsilon,
      iterations=iterations,
      axis_name=axis_name,
    )
  )(high_res)  # [v_h, n, k]
  codes = jax.lax.stop_gradient(codes)
  log_p = jax.nn.log_softmax(views / temperature, axis=-1)  # [v, n, k]
  # ce[a, b] = Σ_i Σ_c -q_a,ic log p_b,ic (summed over this shard's rows).
  ce = -_collectives.einsum_over_batch("aic,bic->ab", codes, log_p)
  ce = _collectives.global_sum(ce, axis_name) / big_n
  is_other = ~jnp.eye(v_h, v, dtype=bool)
  return jnp.sum(jnp.where(is_other, ce, 0.0)) / ((v - 1) * v_h)
