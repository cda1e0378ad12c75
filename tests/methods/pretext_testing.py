"""Shared pieces of the pretext-method tests (rotation, jigsaw, ...).

A fixed fake batch of the `images` kind, a few jitted Adam steps on it, and
the check that a bad config value raises naming its key.
"""

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import optax
import pytest

from jaxssl import configs_lib, methods


def image_batch(n=8, size=32, seed=0):
  """{"image": N(0, 1) [n, size, size, 3], "label", "index"} (images kind)."""
  rng = np.random.default_rng(seed)
  return {
    "image": jnp.asarray(rng.normal(size=(n, size, size, 3)), jnp.float32),
    "label": jnp.zeros((n,), jnp.int32),
    "index": jnp.arange(n, dtype=jnp.int32),
  }


def smoke(name, **method):
  """`configs/<name>_quick.py:smoke` with `config.method` overrides."""
  return mt.smoke_config(f"{name}_quick", **method)


def train_losses(method, params, extra, batch, steps=6, lr=1e-3):
  """Losses of `steps` jitted Adam steps on one fixed batch and step key.

  Returns (losses, params, extra, metrics of the last step).
  """
  tx = optax.adam(lr)

  @jax.jit
  def step(params, extra, opt_state, i):
    (_, (extra, metrics)), grads = jax.value_and_grad(
      method.loss, has_aux=True
    )(params, extra, batch, jax.random.key(1), i)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), extra, opt_state, metrics

  opt_state, out = tx.init(params), []
  for i in range(steps):
    params, extra, opt_state, metrics = step(params, extra, opt_state, i)
    out.append(float(metrics["loss"]))
  return out, params, extra, metrics


def assert_learns(losses):
  """Finite losses, falling over the steps (a fixed batch and key)."""
  assert all(np.isfinite(losses)), losses
  assert losses[-1] < 0.9 * losses[0], losses


def assert_config_error_names_key(name, key, value, match):
  """Loading `configs/<name>_quick.py:smoke` with `key`=`value` raises a
  ValueError matching `match` (validate runs the method's check)."""
  config = configs_lib.load(f"{mt.ROOT}/configs/{name}_quick.py", "smoke")
  section, _, leaf = key.rpartition(".")
  node = config
  for part in section.split("."):
    node = node[part]
  node[leaf] = value
  with pytest.raises(ValueError, match=match):
    configs_lib.validate(config)
  with pytest.raises(ValueError, match=match):
    methods.build(config)
