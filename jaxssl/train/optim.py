"""Optimizers and learning-rate schedules, all from optax.

Weight decay and LARS adaptation skip biases and normalisation scales (every
parameter with fewer than 2 dimensions), as in SimCLR, BYOL and solo-learn.
"""

from __future__ import annotations

import jax
import optax


def decay_mask(params):
  """True for weights that get weight decay / LARS trust ratios (ndim >= 2)."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


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


def make(optim_config, batch_size: int, total_steps: int):
  """Builds the optax transformation and its lr schedule from `config.optim`.

  Returns:
    (tx, lr_schedule): the schedule maps step -> learning rate (for logging).
  """
  o = optim_config
  lr = schedule(o, batch_size, total_steps)
  if o.name == "lars":
    tx = optax.lars(
      lr,
      weight_decay=o.weight_decay,
      weight_decay_mask=decay_mask,
      trust_coefficient=o.lars_trust,
      trust_ratio_mask=decay_mask,
      momentum=o.momentum,
    )
  elif o.name == "adamw":
    tx = optax.adamw(
      lr, b1=o.b1, b2=o.b2, weight_decay=o.weight_decay, mask=decay_mask
    )
  elif o.name == "sgd":
    tx = optax.chain(
      optax.add_decayed_weights(o.weight_decay, decay_mask),
      optax.sgd(lr, momentum=o.momentum),
    )
  else:
    raise ValueError(
      f"config.optim.name={o.name!r} is not one of ['lars', 'adamw', 'sgd']"
    )
  if o.clip_grad_norm > 0:
    tx = optax.chain(optax.clip_by_global_norm(o.clip_grad_norm), tx)
  return tx, lr
