"""Self-distillation with a momentum teacher: the DINO loss and its pure
state updaters (the centre EMA and the teacher-temperature schedule).

The centre is state: the loss takes it as an input and `dino_center`
returns the updated value; the method keeps it in `TrainState.extra`.
"""

import jax
import jax.numpy as jnp

from jaxssl.losses import _collectives, _common


@_common.jit_loss(positive=("student_temp", "teacher_temp"))
def dino(
  student: jax.typing.ArrayLike,
  teacher: jax.typing.ArrayLike,
  center: jax.typing.ArrayLike,
  *,
  student_temp: float = 0.1,
  teacher_temp: float = 0.04,
) -> jax.Array:
  r"""DINO's cross-entropy between teacher and student views.

  Teacher targets q_i = softmax((t_i - center)/τ_t) carry no gradient;
  student predictions are log p_j = log_softmax(s_j/τ_s). Over every pair
  (teacher view i, student view j) with i ≠ j (global views come first in
  `student`, so view i of both is the same crop):

    loss = (1/#pairs) Σ_{i≠j} mean_n [-Σ_k q_i,nk log p_j,nk].

  Args:
    student: [s, n, k] student logits (global views first, then local).
    teacher: [t, n, k] teacher logits of the t global views (t ≤ s).
    center: [k] (or [1, k]) teacher centre.
    student_temp: τ_s.
    teacher_temp: τ_t (see `dino_teacher_temp` for the schedule).

  Returns:
    float32 scalar.

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    Caron et al., Emerging Properties in Self-Supervised Vision Transformers
    (DINO), arXiv:2104.14294.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> s = jnp.zeros((4, 2, 3))
    >>> t = jnp.ones((2, 2, 3))
    >>> print(f"{losses.dino(s, t, jnp.zeros(3)):.4f}")
    1.0986
  """
  student = _common.as_float(student, "student")
  teacher = _common.as_float(teacher, "teacher")
  center = _common.as_float(center, "center")
  _common.check_rank(student, 3, "student")
  _common.check_rank(teacher, 3, "teacher")
  s, n, k = student.shape
  t = teacher.shape[0]
  if teacher.shape[1:] != (n, k) or t > s:
    raise ValueError(
      "`teacher` must be [t, n, k] with t <= s for `student` [s, n, k], got "
      f"shapes {tuple(teacher.shape)} and {tuple(student.shape)}."
    )
  if center.shape not in ((k,), (1, k)):
    raise ValueError(
      f"`center` must be [{k}] or [1, {k}], got shape {tuple(center.shape)}."
    )
  q = jax.nn.softmax((teacher - center.reshape(k)) / teacher_temp, axis=-1)
  q = jax.lax.stop_gradient(q)
  log_p = jax.nn.log_softmax(student / student_temp, axis=-1)
  ce = -_collectives.einsum_over_batch("ink,jnk->ij", q, log_p) / n  # [t, s]
  is_pair = ~jnp.eye(t, s, dtype=bool)
  return jnp.sum(jnp.where(is_pair, ce, 0.0)) / (t * s - t)


@_common.jit_loss(static=("axis_name",))
def dino_center(
  center: jax.typing.ArrayLike,
  teacher: jax.typing.ArrayLike,
  *,
  momentum: float = 0.9,
  axis_name: str | None = None,
) -> jax.Array:
  r"""DINO's centre update: an EMA of the mean teacher logit.

    c ← m c + (1 - m) mean_{views, global batch} t.

  Args:
    center: [k] or [1, k] current centre.
    teacher: [t, n, k] teacher logits (batch along n).
    momentum: m.
    axis_name: mesh axis of the batch inside `jax.shard_map`; None when
      `teacher` holds the global batch.

  Returns:
    float32 array shaped like `center`, without gradient.

  Raises:
    ValueError: on wrong ranks or mismatched shapes.

  References:
    Caron et al., DINO, arXiv:2104.14294.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> t = jnp.array([[[1.0, 3.0]], [[3.0, 5.0]]])
    >>> print(losses.dino_center(jnp.zeros(2), t, momentum=0.5))
    [1. 2.]
  """
  center = _common.as_float(center, "center")
  teacher = _common.as_float(teacher, "teacher")
  _common.check_rank(teacher, 3, "teacher")
  k = teacher.shape[-1]
  if center.shape not in ((k,), (1, k)):
    raise ValueError(
      f"`center` must be [{k}] or [1, {k}] for `teacher` of shape "
      f"{tuple(teacher.shape)}, got {tuple(center.shape)}."
    )
  teacher = jax.lax.stop_gradient(teacher)
  batch_center = _collectives.global_mean(teacher, axis_name, axis=(0, 1))
  new = momentum * center + (1.0 - momentum) * batch_center.reshape(
    center.shape
  )
  return jax.lax.stop_gradient(new)


@_common.jit_loss(static=("warmup_epochs",))
def dino_teacher_temp(
  epoch: jax.typing.ArrayLike,
  *,
  warmup: float = 0.04,
  final: float = 0.07,
  warmup_epochs: int = 30,
) -> jax.Array:
  r"""DINO's teacher-temperature schedule.

  Linear from `warmup` at epoch 0 to `final` at epoch `warmup_epochs - 1`
  (the official `np.linspace(warmup, final, warmup_epochs)`), then constant.

  Args:
    epoch: integer or float epoch (may be traced).
    warmup: initial temperature.
    final: temperature after the warm-up.
    warmup_epochs: length of the warm-up.

  Returns:
    float32 scalar.

  References:
    Caron et al., DINO, arXiv:2104.14294.

  Example:
    >>> from jaxssl import losses
    >>> print([round(float(losses.dino_teacher_temp(e, warmup_epochs=4)), 3)
    ...        for e in (0, 1, 3, 10)])
    [0.04, 0.05, 0.07, 0.07]
  """
  epoch = jnp.asarray(epoch, jnp.float32)
  slope = (final - warmup) / max(warmup_epochs - 1, 1)
  ramp = warmup + slope * epoch
  return jnp.where(epoch < warmup_epochs, ramp, final).astype(jnp.float32)
