"""The train step: forward, loss, gradients, update, extra-state update."""

from __future__ import annotations

import jax
import optax

from jaxssl.train.state import TrainState


def make_train_step(method, tx, lr_schedule, base_key):
  """Builds `step(state, batch) -> (state, metrics)` (jit it with donation).

  Metrics are `train/<name>` scalars: the method's own, plus the learning
  rate and the global gradient and parameter norms.
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
    new_state = state.replace(
      step=state.step + 1, params=params, opt_state=opt_state, extra=extra
    )
    return new_state, metrics

  return train_step
