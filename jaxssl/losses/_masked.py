"""Masked and autoregressive modelling losses: MAE pixel regression,
masked-LM and next-token cross-entropies.

The masking itself lives with its users (`jaxssl.models.patches.patchify`,
`jaxssl.methods.mae.random_masking`, `jaxssl.masking.mask_tokens`); these
functions only score predictions. Masked means are
`sum(x * m) / max(sum(m), 1)`.
"""

import jax
import jax.numpy as jnp

from jaxssl.losses import _common


def _masked_mean(x, is_masked):
  m = is_masked.astype(x.dtype)
  return jnp.sum(x * m) / jnp.maximum(jnp.sum(m), 1.0)


def _check_bool(x, shape, name):
  x = jnp.asarray(x)
  if x.shape != shape:
    raise ValueError(f"`{name}` must have shape {shape}, got {tuple(x.shape)}.")
  return x.astype(bool)


@_common.jit_loss(static=("norm_pix",))
def mae(
  pred: jax.typing.ArrayLike,
  target: jax.typing.ArrayLike,
  is_masked: jax.typing.ArrayLike,
  *,
  norm_pix: bool = True,
) -> jax.Array:
  r"""MAE's per-patch mean squared error over the masked patches.

  With `norm_pix`, each target patch is normalised by its own mean and
  unbiased variance, t̂ = (t - mean) / sqrt(var + 1e-6) (official MAE code);
  then

    loss = Σ_{i,j} m_ij mean_p (pred_ijp - t̂_ijp)² / max(Σ m_ij, 1).

  Args:
    pred: [n, l, p] decoder predictions per patch.
    target: [n, l, p] target patches
      (`jaxssl.models.patches.patchify(images, ...)`).
    is_masked: [n, l] bool, True for the hidden patches that are scored.
    norm_pix: normalise each target patch.

  Returns:
    float32 scalar.

  Raises:
    ValueError: on mismatched shapes.

  References:
    He et al., Masked Autoencoders Are Scalable Vision Learners,
    arXiv:2111.06377.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> target = jnp.array([[[0.0, 2.0], [1.0, 1.0]]])
    >>> is_masked = jnp.array([[True, False]])
    >>> print(f"{losses.mae(jnp.zeros((1, 2, 2)), target, is_masked):.4f}")
    0.5000
  """
  pred = _common.as_float(pred, "pred")
  target = _common.as_float(target, "target")
  _common.check_rank(pred, 3, "pred")
  _common.check_same_shape(pred, target, "pred", "target")
  is_masked = _check_bool(is_masked, pred.shape[:2], "is_masked")
  target = target.astype(pred.dtype)
  if norm_pix:
    mean = jnp.mean(target, axis=-1, keepdims=True)
    var = jnp.var(target, axis=-1, keepdims=True, ddof=1)
    target = (target - mean) / jnp.sqrt(var + 1e-6)
  per_patch = jnp.mean((pred - target) ** 2, axis=-1)
  return _masked_mean(per_patch, is_masked)


def _check_logits(logits, targets, names):
  logits = _common.as_float(logits, names[0])
  _common.check_rank(logits, 3, names[0])
  targets = jnp.asarray(targets)
  if targets.shape != logits.shape[:2] or not jnp.issubdtype(
    targets.dtype, jnp.integer
  ):
    raise ValueError(
      f"`{names[1]}` must be integer with shape {logits.shape[:2]} for "
      f"`{names[0]}` {tuple(logits.shape)}, got {tuple(targets.shape)} "
      f"{targets.dtype}."
    )
  return logits, targets


def _token_ce(logits, targets):
  log_p = jax.nn.log_softmax(logits, axis=-1)
  return -jnp.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]


@_common.jit_loss()
def masked_lm(
  logits: jax.typing.ArrayLike,
  targets: jax.typing.ArrayLike,
  is_masked: jax.typing.ArrayLike,
) -> jax.Array:
  r"""Masked-LM cross-entropy averaged over the masked positions.

    loss = Σ m_ij (-log softmax(logits_ij)[t_ij]) / max(Σ m_ij, 1).

  Args:
    logits: [n, l, V] token logits.
    targets: [n, l] original token ids (`mask_tokens` returns them).
    is_masked: [n, l] bool, the positions to score.

  Returns:
    float32 scalar.

  Raises:
    ValueError: on mismatched shapes or dtypes.

  References:
    Devlin et al., BERT, arXiv:1810.04805.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> logits = jnp.zeros((1, 2, 4))
    >>> loss = losses.masked_lm(logits, jnp.array([[1, 2]]),
    ...                         jnp.array([[True, False]]))
    >>> print(f"{loss:.4f}")
    1.3863
  """
  logits, targets = _check_logits(logits, targets, ("logits", "targets"))
  is_masked = _check_bool(is_masked, targets.shape, "is_masked")
  return _masked_mean(_token_ce(logits, targets), is_masked)


@_common.jit_loss()
def next_token(
  logits: jax.typing.ArrayLike,
  tokens: jax.typing.ArrayLike,
  valid: jax.typing.ArrayLike,
) -> jax.Array:
  r"""Autoregressive next-token cross-entropy.

  Position t predicts token t + 1; a prediction is scored when its target
  token is valid (not padding):

    loss = Σ_{i, t<l-1} v_i,t+1 (-log softmax(logits_it)[x_i,t+1])
           / max(Σ_{i, t<l-1} v_i,t+1, 1).

  Args:
    logits: [n, l, V] logits at every input position.
    tokens: [n, l] the input token ids.
    valid: [n, l] bool, True for real (non-padding) tokens.

  Returns:
    float32 scalar.

  Raises:
    ValueError: on mismatched shapes or dtypes.

  References:
    Radford et al., Improving Language Understanding by Generative
    Pre-Training (GPT), 2018 (no arXiv).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> logits = jnp.zeros((1, 3, 4))
    >>> loss = losses.next_token(logits, jnp.array([[0, 1, 2]]),
    ...                          jnp.array([[True, True, False]]))
    >>> print(f"{loss:.4f}")
    1.3863
  """
  logits, tokens = _check_logits(logits, tokens, ("logits", "tokens"))
  valid = _check_bool(valid, tokens.shape, "valid")
  ce = _token_ce(logits[:, :-1], tokens[:, 1:])
  return _masked_mean(ce, valid[:, 1:])
