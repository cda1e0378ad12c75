"""The train state: arrays only, so it goes straight to Orbax and sharding."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
  """`step`, `params`, `opt_state` and the method's `extra` state.

  The optimizer, model and method are closed over by the step, not stored,
  and no RNG key is stored: step keys are `fold_in(base_key, step)`, so a
  resumed run draws the same keys. `skipped_steps` counts the steps whose
  update was skipped as non-finite (`config.train.nan_policy="skip"`).
  """

  step: jax.Array
  params: Any
  opt_state: optax.OptState
  extra: Any
  skipped_steps: jax.Array = 0


def init_fn(method, tx: optax.GradientTransformation, batch_spec):
  """Returns `init(rng) -> TrainState`, to be run under `jax.jit`.

  Args:
    method: a `jaxssl.methods.Method`.
    tx: the optimizer.
    batch_spec: a pytree of `jax.ShapeDtypeStruct` (or arrays) giving the
      training batch shapes; zeros of those shapes drive `method.init`.
  """

  def init(rng):
    batch = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), batch_spec)
    params, extra = method.init(rng, batch)
    return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      opt_state=tx.init(params),
      extra=extra,
      skipped_steps=jnp.zeros((), jnp.int32),
    )

  return init
