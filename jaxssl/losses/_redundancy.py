"""Non-contrastive joint-embedding losses: SimSiam/BYOL regression and the
redundancy-reduction objectives Barlow Twins and VICReg.

These compare two views without negatives; Barlow Twins and VICReg need
batch statistics, which with `axis_name` are reduced over the mesh axis so
the shard_map form equals the global-batch form. Stop-gradients on target
branches are the method's job, not the loss's.
"""

import jax
import jax.numpy as jnp

from jaxssl.losses import _collectives, _common


@_common.jit_loss()
def negative_cosine(
  p: jax.typing.ArrayLike,
  z: jax.typing.ArrayLike,
) -> jax.Array:
  r"""SimSiam's negative cosine similarity, averaged over rows.

    loss = -(1/N) Σ_i p_i·z_i / (‖p_i‖ ‖z_i‖).

  The caller stops the gradient of `z` (SimSiam's stop-gradient) and
  symmetrises over the two views.

  Args:
    p: [N, d] predictor outputs.
    z: [N, d] target projections.

  Returns:
    float32 scalar in [-1, 1].

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    Chen & He, Exploring Simple Siamese Representation Learning,
    arXiv:2011.10566.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> p = jnp.array([[1.0, 0.0], [0.0, 2.0]])
    >>> z = jnp.array([[3.0, 0.0], [1.0, 1.0]])
    >>> print(f"{losses.negative_cosine(p, z):.4f}")
    -0.8536
  """
  p, z = _common.check_pair(p, z, ("p", "z"))
  cos = jnp.sum(_common.l2_normalize(p) * _common.l2_normalize(z), axis=-1)
  return -jnp.mean(cos)


@_common.jit_loss()
def byol(
  p: jax.typing.ArrayLike,
  z: jax.typing.ArrayLike,
) -> jax.Array:
  r"""BYOL's normalised regression loss (one direction).

    loss = (1/N) Σ_i ‖p̂_i - ẑ_i‖² = (1/N) Σ_i (2 - 2 cos(p_i, z_i)).

  Args:
    p: [N, d] online predictions.
    z: [N, d] target projections (the caller stops their gradient and
      symmetrises over views).

  Returns:
    float32 scalar in [0, 4].

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    Grill et al., Bootstrap your own latent, arXiv:2006.07733.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> p = jnp.array([[1.0, 0.0], [0.0, 2.0]])
    >>> z = jnp.array([[3.0, 0.0], [1.0, 1.0]])
    >>> print(f"{losses.byol(p, z):.4f}")
    0.2929
  """
  p, z = _common.check_pair(p, z, ("p", "z"))
  diff = _common.l2_normalize(p) - _common.l2_normalize(z)
  return jnp.mean(jnp.sum(diff * diff, axis=-1))


def _standardize(z, axis_name, eps):
  """Per-feature (z - mean) / sqrt(biased var + eps) over the global batch."""
  mean = _collectives.global_mean(z, axis_name)
  centred = z - mean
  var = _collectives.global_mean(centred * centred, axis_name)
  return centred / jnp.sqrt(var + eps)


@_common.jit_loss(static=("axis_name",))
def barlow_twins(
  z1: jax.typing.ArrayLike,
  z2: jax.typing.ArrayLike,
  *,
  off_diagonal_weight: float = 5e-3,
  axis_name: str | None = None,
) -> jax.Array:
  r"""Barlow Twins' redundancy-reduction loss.

  Each feature is standardised with batch statistics (biased variance,
  eps 1e-5, i.e. BatchNorm without affine), then with
  C = ẑ1ᵀ ẑ2 / N ([d, d]):

    loss = Σ_i (1 - C_ii)² + λ Σ_{i≠j} C_ij².

  Args:
    z1: [n, d] projections of the first view.
    z2: [n, d] projections of the second view.
    off_diagonal_weight: λ.
    axis_name: mesh axis to reduce batch statistics over inside
      `jax.shard_map`; None when the inputs are the global batch.

  Returns:
    float32 scalar.

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    Zbontar et al., Barlow Twins: Self-Supervised Learning via Redundancy
    Reduction, arXiv:2103.03230.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> z = jnp.array([[1.0, 2.0], [-1.0, 0.0], [0.0, -2.0]])
    >>> print(f"{losses.barlow_twins(z, z, off_diagonal_weight=0.5):.4f}")
    0.2500
  """
  z1, z2 = _common.check_pair(z1, z2, ("z1", "z2"))
  n = z1.shape[0]
  big_n = n * _collectives.axis_size(axis_name)
  z1 = _standardize(z1, axis_name, 1e-5)
  z2 = _standardize(z2, axis_name, 1e-5)
  c = (
    _collectives.global_sum(
      _collectives.einsum_over_batch("nd,ne->de", z1, z2), axis_name
    )
    / big_n
  )
  on_diag = jnp.sum((1.0 - jnp.diagonal(c)) ** 2)
  off_diag = jnp.sum(c * c) - jnp.sum(jnp.diagonal(c) ** 2)
  return on_diag + off_diagonal_weight * off_diag


def _variance_covariance(z, axis_name):
  """Returns (mean relu(1 - std), Σ_{i≠j} C_ij² / d) of one branch."""
  n, d = z.shape
  big_n = n * _collectives.axis_size(axis_name)
  centred = z - _collectives.global_mean(z, axis_name)
  cov = _collectives.global_sum(
    _collectives.einsum_over_batch("nd,ne->de", centred, centred), axis_name
  ) / (big_n - 1)
  var = jnp.diagonal(cov)  # unbiased variance
  std = jnp.sqrt(var + 1e-4)
  variance = jnp.mean(jax.nn.relu(1.0 - std))
  covariance = (jnp.sum(cov * cov) - jnp.sum(var * var)) / d
  return variance, covariance


@_common.jit_loss(static=("axis_name",))
def vicreg(
  z1: jax.typing.ArrayLike,
  z2: jax.typing.ArrayLike,
  *,
  invariance_weight: float = 25.0,
  variance_weight: float = 25.0,
  covariance_weight: float = 1.0,
  axis_name: str | None = None,
) -> jax.Array:
  r"""VICReg: variance-invariance-covariance regularisation.

  With centred branches and unbiased statistics over the N samples:

    inv = mean_{i,f} (z1_if - z2_if)²,
    var = ½ Σ_{b∈{1,2}} mean_f relu(1 - sqrt(Var(z_b,f) + 1e-4)),
    cov = Σ_{b∈{1,2}} Σ_{f≠g} C_b,fg² / d,  C_b = z̄_bᵀ z̄_b / (N - 1),
    loss = λ inv + μ var + ν cov.

  Args:
    z1: [n, d] projections of the first view.
    z2: [n, d] projections of the second view.
    invariance_weight: λ.
    variance_weight: μ.
    covariance_weight: ν.
    axis_name: mesh axis to reduce batch statistics over inside
      `jax.shard_map`; None when the inputs are the global batch.

  Returns:
    float32 scalar.

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    Bardes, Ponce & LeCun, VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning, arXiv:2105.04906.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> z = jnp.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    >>> print(f"{losses.vicreg(z, z):.4f}")
    0.0000
  """
  z1, z2 = _common.check_pair(z1, z2, ("z1", "z2"))
  diff = z1 - z2
  invariance = _collectives.global_mean(diff * diff, axis_name, axis=(0, 1))
  var1, cov1 = _variance_covariance(z1, axis_name)
  var2, cov2 = _variance_covariance(z2, axis_name)
  return (
    invariance_weight * invariance
    + variance_weight * 0.5 * (var1 + var2)
    + covariance_weight * (cov1 + cov2)
  )
