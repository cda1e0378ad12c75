"""Pieces of the supervised protocols that train a linear head on labels.

`finetune` (the whole backbone + a head) and `linear_sgd` (a head on the
frozen backbone) share them: class-balanced label subsets, the random
crop + flip done in JAX on the device, the cosine-scheduled optimizers, and
the linear head itself (zero-initialised, on the flattened features).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

OPTIMIZERS = ("sgd", "adamw", "lars")


def balanced_subset(labels, fraction: float, *, seed: int) -> np.ndarray:
  """Sorted indices of a class-balanced `fraction` of `labels`.

  Each class c keeps `max(1, round(fraction * count_c))` of its examples,
  chosen by a permutation seeded with (seed, c): fixed per seed.

  Raises:
    ValueError: `fraction` outside (0, 1].
  """
  if not 0 < fraction <= 1:
    raise ValueError(f"fraction={fraction!r}: must be in (0, 1]")
  labels = np.asarray(labels)
  out = []
  for c in np.unique(labels):
    members = np.flatnonzero(labels == c)
    keep = max(1, round(fraction * len(members)))
    perm = np.random.default_rng([seed, int(c)]).permutation(len(members))
    out.append(members[perm[:keep]])
  return np.sort(np.concatenate(out))


def augment(images: jax.Array, rng: jax.Array) -> jax.Array:
  """Random crop (reflect-pad h/8, crop back) + horizontal flip.

  Args:
    images: [n, h, w, c] float images.
    rng: a PRNG key.

  Returns:
    [n, h, w, c] augmented images, one draw per image.
  """
  n, h = images.shape[:2]
  pad = max(1, h // 8)

  def one(image, key):
    k_y, k_x, k_f = jax.random.split(key, 3)
    padded = jnp.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    y = jax.random.randint(k_y, (), 0, 2 * pad + 1)
    x = jax.random.randint(k_x, (), 0, 2 * pad + 1)
    crop = jax.lax.dynamic_slice(padded, (y, x, 0), image.shape)
    return jnp.where(jax.random.bernoulli(k_f), crop[:, ::-1], crop)

  return jax.vmap(one)(images, jax.random.split(rng, n))


def _is_kernel(params):
  """True for the leaves weight decay and LARS's trust ratio apply to."""
  return jax.tree.map(lambda p: p.ndim > 1, params)


def optimizer(
  name: str,
  lr: float,
  steps: int,
  *,
  weight_decay: float | None = None,
  nesterov: bool = True,
  warmup_steps: int = 0,
  clip_norm: float = 0.0,
) -> optax.GradientTransformation:
  """`name` on a cosine schedule from `lr` to 0 over `steps`.

  Args:
    name: "sgd" (momentum 0.9), "adamw" or "lars" (momentum 0.9, trust
      coefficient 0.001, as SimCLR's).
    lr: the peak learning rate.
    steps: the schedule's length.
    weight_decay: decoupled (adamw) or L2 added to the gradient (sgd,
      lars), on the kernels only (ndim > 1; lars's trust ratio too); None:
      1e-4 for adamw, 0 otherwise.
    nesterov: Nesterov momentum (sgd, lars).
    warmup_steps: a linear warm-up from 0 to `lr` over the first this many
      of the `steps` (0: none; at most `steps - 1`), then the cosine over
      the rest.
    clip_norm: > 0: the gradients are first clipped to this global norm
      (`optax.clip_by_global_norm`, over every trained array); 0: no clip.

  Raises:
    ValueError: an unknown `name`.
  """
  opt = _optimizer(name, lr, steps, weight_decay, nesterov, warmup_steps)
  if clip_norm > 0:
    return optax.chain(optax.clip_by_global_norm(clip_norm), opt)
  return opt


def _optimizer(name, lr, steps, weight_decay, nesterov, warmup_steps):
  warmup_steps = min(warmup_steps, steps - 1)  # the cosine keeps a step
  if warmup_steps > 0:
    schedule = optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps, steps)
  else:
    schedule = optax.cosine_decay_schedule(lr, steps)
  if name == "adamw":
    wd = 1e-4 if weight_decay is None else weight_decay
    return optax.adamw(schedule, weight_decay=wd)
  wd = weight_decay or 0.0
  if name == "lars":
    return optax.lars(
      schedule,
      weight_decay=wd,
      weight_decay_mask=_is_kernel,
      trust_coefficient=0.001,
      trust_ratio_mask=_is_kernel,
      momentum=0.9,
      nesterov=nesterov,
    )
  if name == "sgd":
    sgd = optax.sgd(schedule, momentum=0.9, nesterov=nesterov)
    if wd:
      return optax.chain(optax.add_decayed_weights(wd, mask=_is_kernel), sgd)
    return sgd
  raise ValueError(f"optimizer={name!r} is not one of {OPTIMIZERS}")


def flat(feats: jax.Array) -> jax.Array:
  """[n, ...] features as float32 [n, d]."""
  return feats.reshape(feats.shape[0], -1).astype(jnp.float32)


def init_head(feature_dim: int, num_classes: int) -> dict[str, jax.Array]:
  """A zero-initialised linear head {"w": [d, classes], "b": [classes]}."""
  return {
    "w": jnp.zeros((feature_dim, num_classes), jnp.float32),
    "b": jnp.zeros((num_classes,), jnp.float32),
  }


def apply_head(head, feats: jax.Array) -> jax.Array:
  """Logits [n, classes] of the head on [n, ...] features."""
  return flat(feats) @ head["w"] + head["b"]


def topk_correct(logits: jax.Array, labels: jax.Array, k: int) -> jax.Array:
  """bool [n]: fewer than k classes score strictly above the label's.

  The convention of `evals.linear.topk_accuracy` (ties count as right).
  """
  true = jnp.take_along_axis(logits, labels[:, None], axis=-1)
  return jnp.sum(logits > true, axis=-1) < k


__all__ = [
  "OPTIMIZERS",
  "apply_head",
  "augment",
  "balanced_subset",
  "flat",
  "init_head",
  "optimizer",
  "topk_correct",
]
