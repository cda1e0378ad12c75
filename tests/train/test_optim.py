"""Optimizers and schedules: closed-form values, weight-decay masks."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxssl import configs_lib
from jaxssl.train import optim


def _optim(**kw):
  c = configs_lib.base_config().optim
  for k, v in kw.items():
    c[k] = v
  return c


def test_schedule_warmup_then_cosine():
  o = _optim(lr=0.3, warmup_steps=10, end_lr_ratio=0.0)
  sched = optim.schedule(o, batch_size=512, total_steps=110)
  peak = 0.3 * 512 / 256
  np.testing.assert_allclose(sched(0), 0.0, atol=1e-7)
  np.testing.assert_allclose(sched(5), peak / 2, rtol=1e-6)
  np.testing.assert_allclose(sched(10), peak, rtol=1e-6)
  # Cosine half way through the decay: lr = peak * (1 + cos(pi/2)) / 2.
  np.testing.assert_allclose(sched(60), peak / 2, rtol=1e-5)
  np.testing.assert_allclose(sched(110), 0.0, atol=1e-6)


def test_no_lr_scaling():
  o = _optim(lr=0.01, lr_scaling="none")
  assert optim.peak_lr(o, 4096) == 0.01


@pytest.mark.parametrize("name", ["lars", "adamw", "sgd"])
def test_decay_skips_biases_and_norms(name):
  params = {"w": jnp.ones((3, 3)), "b": jnp.ones((3,))}
  o = _optim(
    name=name, lr=0.1, weight_decay=0.5, warmup_steps=0, lr_scaling="none"
  )
  tx, _ = optim.make(o, batch_size=256, total_steps=10)
  state = tx.init(params)
  zeros = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zeros, state, params)
  # Zero gradient: only weight decay moves parameters, and only matrices.
  assert float(jnp.abs(updates["b"]).max()) == 0.0
  assert float(jnp.abs(updates["w"]).max()) > 0.0


def test_clipping_chains_in():
  o = _optim(
    name="sgd",
    lr=1.0,
    momentum=0.0,
    weight_decay=0.0,
    warmup_steps=0,
    lr_scaling="none",
    clip_grad_norm=1.0,
    end_lr_ratio=1.0,
  )
  tx, _ = optim.make(o, batch_size=256, total_steps=10)
  params = {"w": jnp.zeros((2, 2))}
  updates, _ = tx.update({"w": jnp.full((2, 2), 10.0)}, tx.init(params), params)
  np.testing.assert_allclose(optax.tree.norm(updates), 1.0, rtol=1e-5)
