"""The train step: forward, loss, gradients, update, extra-state update."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxssl.train.state import TrainState


def make_train_step(method, tx, lr_schedule, base_key, *, skip_nonfinite=False):
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
  """

  def train_step(state: TrainState, batch):
    rng = jax.random.fold_in(base_key, state.step)
    grad_fn = jax.value_and_grad(method.loss, has_aux=True)
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
