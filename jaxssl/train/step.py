"""The train step: forward, loss, gradients, update, extra-state update."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxssl.train.state import TrainState


def _mean_extra(extras):
  """The mean over axis 0 of stacked float leaves; the last of the others."""

  def mean(x):
    if jnp.issubdtype(x.dtype, jnp.floating):
      return jnp.mean(x.astype(jnp.float32), axis=0).astype(x.dtype)
    return x[-1]

  return jax.tree.map(mean, extras)


def _accumulated(method, accumulate_steps):
  """`(params, extra, batch, rng, step) -> ((loss, (extra, metrics)), grads)`.

  With `accumulate_steps` k > 1 the global batch is split into k
  micro-batches of n / k rows (row i goes to micro-batch i // (n / k)),
  run one after the other in a `jax.lax.scan`, micro-batch j with key
  `fold_in(rng, j)`. Gradients, the loss and the metrics are the means
  over the micro-batches. Every micro-batch sees the same input `extra`,
  and the k new extras are averaged (floats; other leaves: the last one):
  an EMA of a batch mean (DINO's centre, BatchNorm running means,
  colorization's prior) then moves once per optimizer step, exactly as on
  the full batch. BatchNorm normalises each micro-batch with its own
  statistics (ghost batch norm, as PyTorch accumulation does).
  """
  grad_fn = jax.value_and_grad(method.loss, has_aux=True)
  if accumulate_steps == 1:
    return grad_fn
  k = accumulate_steps

  def split(x):
    return x.reshape((k, x.shape[0] // k) + x.shape[1:])

  def accumulate(params, extra, batch, rng, step):
    micro = jax.tree.map(split, batch)

    def body(grad_sum, inputs):
      j, mb = inputs
      out, grads = grad_fn(params, extra, mb, jax.random.fold_in(rng, j), step)
      grad_sum = jax.tree.map(jnp.add, grad_sum, grads)
      return grad_sum, out

    zeros = jax.tree.map(jnp.zeros_like, params)
    grad_sum, (losses, (extras, metrics)) = jax.lax.scan(
      body, zeros, (jnp.arange(k), micro)
    )
    grads = jax.tree.map(lambda g: g / k, grad_sum)
    metrics = jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)
    return (jnp.mean(losses), (_mean_extra(extras), metrics)), grads

  return accumulate


def make_train_step(
  method,
  tx,
  lr_schedule,
  base_key,
  *,
  skip_nonfinite=False,
  accumulate_steps=1,
):
  """Builds `step(state, batch) -> (state, metrics)` (jit it with donation).

  Metrics are `train/<name>` scalars: the method's own, plus the learning
  rate and the global gradient and parameter norms (of the updated
  parameters).

  Args:
    method, tx, lr_schedule: the method, optimizer and its schedule.
    base_key: each step's key is `fold_in(base_key, step)`.
    skip_nonfinite: a step whose loss, gradient norm or updated parameter
      norm is not finite keeps the params, optimizer state and extra of its
      input (a select inside the step, no host round trip); the step count
      still advances, `skipped_steps` counts it, and the metrics gain
      `train/skipped_steps`.
    accumulate_steps: k > 1 splits the batch into k micro-batches whose
      gradients are averaged (`_accumulated`); the optimizer,
      `method.update_extra` (EMA teachers) and the schedules then run once
      per optimizer step, and `state.step` counts optimizer steps. 1: one
      pass on the whole batch.
  """
  if accumulate_steps < 1:
    raise ValueError(f"accumulate_steps={accumulate_steps} must be >= 1")
  grad_fn = _accumulated(method, accumulate_steps)

  def train_step(state: TrainState, batch):
    rng = jax.random.fold_in(base_key, state.step)
    (loss, (extra, metrics)), grads = grad_fn(
      state.params, state.extra, batch, rng, state.step
    )
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    extra = method.update_extra(params, extra, state.step)
    metrics = {f"train/{k}": v for k, v in metrics.items()}
    metrics["train/loss"] = loss
    metrics["train/lr"] = lr_schedule(state.step)
    metrics["train/grad_norm"] = optax.tree.norm(grads)
    metrics["train/param_norm"] = optax.tree.norm(params)
    skipped = state.skipped_steps
    if skip_nonfinite:
      finite = (
        jnp.isfinite(loss)
        & jnp.isfinite(metrics["train/grad_norm"])
        & jnp.isfinite(metrics["train/param_norm"])
      )

      def keep(new, old):
        return jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)

      params = keep(params, state.params)
      opt_state = keep(opt_state, state.opt_state)
      extra = keep(extra, state.extra)
      skipped = skipped + jnp.where(finite, 0, 1).astype(skipped.dtype)
      metrics["train/skipped_steps"] = skipped
    new_state = state.replace(
      step=state.step + 1,
      params=params,
      opt_state=opt_state,
      extra=extra,
      skipped_steps=skipped,
    )
    return new_state, metrics

  return train_step
