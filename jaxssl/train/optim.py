"""Optimizers and learning-rate schedules, all from optax.

The optimizer is an `optax.multi_transform` over the method's parameter
groups (`Method.param_labels`, `Method.param_groups`; see
`jaxssl.methods.base.ParamGroup`): one inner optimizer of `config.optim`
per group, configured by the group (frozen, frozen until a step, no
weight decay / LARS adaptation, lr scale, constant lr). The default groups
are "decay" (ndim >= 2) and "no_decay" (biases and normalisation scales),
as in SimCLR, BYOL and solo-learn. Global-norm clipping acts on the whole
gradient before the split, but for the groups marked `clip_apart`, each
clipped by its own norm.
"""

from __future__ import annotations

import jax
import optax

from jaxssl.methods import base

OPTIMIZERS = ("lars", "adamw", "sgd")


def peak_lr(optim_config, batch_size: int) -> float:
  """`optim.lr`, scaled by batch_size / 256 when `optim.lr_scaling=linear`."""
  if optim_config.lr_scaling == "linear":
    return optim_config.lr * batch_size / 256
  return optim_config.lr


def schedule(optim_config, batch_size: int, total_steps: int):
  """Linear warm-up from 0 to the peak lr, then cosine decay."""
  lr = peak_lr(optim_config, batch_size)
  return optax.warmup_cosine_decay_schedule(
    init_value=0.0,
    peak_value=lr,
    warmup_steps=optim_config.warmup_steps,
    decay_steps=max(total_steps, optim_config.warmup_steps + 1),
    end_value=lr * optim_config.end_lr_ratio,
  )


def _inner(o, learning_rate, *, weight_decay: bool):
  """The `config.optim` optimizer for one group (every leaf decayed or none).

  With `weight_decay`, each is optax's optimizer with no mask; without, the
  same chain minus the decay (and LARS's trust ratio), so a group of the
  old `ndim` mask gets exactly the old updates.
  """
  if o.name == "lars":
    if weight_decay:
      return optax.lars(
        learning_rate,
        weight_decay=o.weight_decay,
        trust_coefficient=o.lars_trust,
        momentum=o.momentum,
      )
    return optax.chain(
      optax.scale_by_learning_rate(learning_rate),
      optax.trace(decay=o.momentum),
    )
  if o.name == "adamw":
    return optax.adamw(
      learning_rate,
      b1=o.b1,
      b2=o.b2,
      eps=o.eps,
      weight_decay=o.weight_decay if weight_decay else 0.0,
    )
  if o.name == "sgd":
    sgd = optax.sgd(learning_rate, momentum=o.momentum)
    if weight_decay:
      return optax.chain(optax.add_decayed_weights(o.weight_decay), sgd)
    return sgd
  raise ValueError(f"config.optim.name={o.name!r} is not one of {OPTIMIZERS}")


def _group_lr(group: base.ParamGroup, lr_schedule, peak: float):
  """The group's lr as a function of its inner optimizer's count."""
  if group.constant_lr:
    return peak * group.lr_scale
  # A group frozen until S counts from 0 at step S: shift it back onto the
  # global schedule.
  offset = group.frozen_until_step
  if offset == 0 and group.lr_scale == 1.0:
    return lr_schedule
  return lambda count: group.lr_scale * lr_schedule(count + offset)


def _until(step: int):
  return lambda count: count >= step


def _group_tx(o, group: base.ParamGroup, lr_schedule, peak: float):
  if group.frozen:
    return optax.set_to_zero()
  tx = _inner(
    o,
    _group_lr(group, lr_schedule, peak),
    weight_decay=group.weight_decay,
  )
  if group.frozen_until_step > 0:
    # Until the step: zero updates and the inner state passed through
    # untouched (its count too), so the inner optimizer starts fresh there.
    tx = optax.transforms.conditionally_mask(
      tx, _until(group.frozen_until_step)
    )
  return tx


def _zero_frozen(groups, labels_fn):
  """Zeroes the gradients of the groups frozen at this step, or None.

  Placed before the global-norm clipping, so frozen weights (whose
  gradients the official codes drop) do not shrink the others' updates.
  """
  if not any(g.frozen or g.frozen_until_step for g in groups.values()):
    return None
  txs = {}
  for label, group in groups.items():
    if group.frozen:
      txs[label] = optax.set_to_zero()
    elif group.frozen_until_step > 0:
      txs[label] = optax.transforms.conditionally_mask(
        optax.identity(), _until(group.frozen_until_step)
      )
    else:
      txs[label] = optax.identity()
  return optax.multi_transform(txs, labels_fn)


def _clip(groups, labels_fn, max_norm: float):
  """Global-norm clipping of the groups together, `clip_apart` ones alone."""
  apart = sorted(k for k, g in groups.items() if g.clip_apart)
  if not apart:
    return optax.clip_by_global_norm(max_norm)
  shared = "+".join(sorted(set(groups) - set(apart)))
  txs = {k: optax.clip_by_global_norm(max_norm) for k in [shared, *apart]}
  return optax.multi_transform(
    txs,
    lambda params: jax.tree.map(
      lambda label: label if label in apart else shared, labels_fn(params)
    ),
  )


def _checked(param_labels, groups):
  """`param_labels`, raising if it names a group `groups` lacks."""

  def labels(params):
    out = param_labels(params)
    unknown = set(jax.tree.leaves(out)) - set(groups)
    if unknown:
      raise ValueError(
        f"param_labels gave {sorted(unknown)}, not in param_groups "
        f"{sorted(groups)}"
      )
    return out

  return labels


def make(
  optim_config,
  batch_size: int,
  total_steps: int,
  *,
  param_labels=base.default_param_labels,
  param_groups=base.DEFAULT_PARAM_GROUPS,
):
  """Builds the optax transformation and its lr schedule from `config.optim`.

  Args:
    optim_config: `config.optim`.
    batch_size: the global batch (for `optim.lr_scaling`).
    total_steps: the length of the cosine schedule.
    param_labels: `params -> pytree of str`, the group of each parameter
      (`Method.param_labels`).
    param_groups: `{label: ParamGroup}` (`Method.param_groups`).

  Returns:
    (tx, lr_schedule): the schedule maps step -> learning rate (for logging;
    the groups with `lr_scale` or `constant_lr` differ from it).

  Raises:
    ValueError: naming `config.optim.name` when it is unknown.
  """
  o = optim_config
  if o.name not in OPTIMIZERS:
    raise ValueError(
      f"config.optim.name={o.name!r} is not one of {list(OPTIMIZERS)}"
    )
  lr = schedule(o, batch_size, total_steps)
  peak = peak_lr(o, batch_size)
  labels_fn = _checked(param_labels, param_groups)
  tx = optax.multi_transform(
    {
      label: _group_tx(o, group, lr, peak)
      for label, group in param_groups.items()
    },
    labels_fn,
  )
  if o.clip_grad_norm > 0:
    clip = _clip(param_groups, labels_fn, o.clip_grad_norm)
    zero_frozen = _zero_frozen(param_groups, labels_fn)
    if zero_frozen is None:
      tx = optax.chain(clip, tx)
    else:
      tx = optax.chain(zero_frozen, clip, tx)
  return tx, lr
