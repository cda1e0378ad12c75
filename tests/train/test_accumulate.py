"""Gradient accumulation (`config.train.accumulate_steps`) in the step."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxssl import configs_lib, methods
from jaxssl.data import kinds
from jaxssl.methods import base
from jaxssl.train import setup as setup_lib
from jaxssl.train import state as state_lib
from jaxssl.train import step as step_lib

N, D = 16, 5
MOMENTUM = 0.5


def _toy_method():
  """Per-example squared error of a linear map, a centre (EMA of the batch
  mean of the targets, updated in the loss) and an EMA teacher with an
  update counter (updated in update_extra)."""

  def init(rng, batch):
    del batch
    w = jax.random.normal(rng, (D,))
    return {"w": w}, {
      "center": jnp.zeros((), jnp.float32),
      "teacher": w,
      "updates": jnp.zeros((), jnp.int32),
    }

  def loss(params, extra, batch, rng, step):
    del rng, step
    err = batch["x"] @ params["w"] - batch["y"]
    value = jnp.mean(err**2)
    center = MOMENTUM * extra["center"] + (1 - MOMENTUM) * jnp.mean(batch["y"])
    return value, ({**extra, "center": center}, {"mse": value})

  def update_extra(params, extra, step):
    del step
    teacher = MOMENTUM * extra["teacher"] + (1 - MOMENTUM) * params["w"]
    return {**extra, "teacher": teacher, "updates": extra["updates"] + 1}

  return base.Method(
    name="toy",
    init=init,
    loss=loss,
    features=lambda p, e, b: b["x"],
    update_extra=update_extra,
  )


def _toy_batch(seed):
  r = np.random.default_rng(seed)
  return {
    "x": jnp.asarray(r.normal(size=(N, D)), jnp.float32),
    "y": jnp.asarray(r.normal(size=(N,)), jnp.float32),
  }


def _run_toy(k, steps=3):
  method = _toy_method()
  schedule = optax.linear_schedule(0.1, 0.0, 10)
  tx = optax.sgd(schedule)
  spec = jax.eval_shape(lambda: _toy_batch(0))
  state = jax.jit(state_lib.init_fn(method, tx, spec))(jax.random.key(0))
  step = jax.jit(
    step_lib.make_train_step(
      method, tx, schedule, jax.random.key(1), accumulate_steps=k
    )
  )
  history = []
  for i in range(steps):
    state, metrics = step(state, _toy_batch(i))
    history.append(metrics)
  return state, history


@pytest.mark.parametrize("k", [2, 4, 16])
def test_k_micro_batches_equal_one_full_batch_step(k):
  full, full_metrics = _run_toy(1)
  acc, acc_metrics = _run_toy(k)
  chex.assert_trees_all_close(acc.params, full.params, rtol=1e-6, atol=1e-6)
  chex.assert_trees_all_close(acc.extra, full.extra, rtol=1e-6, atol=1e-6)
  chex.assert_trees_all_close(acc_metrics, full_metrics, rtol=1e-5, atol=1e-6)
  # Optimizer steps, not micro-batches: the step, the EMA teacher's update
  # count and the learning-rate schedule move once per step.
  assert int(acc.step) == 3 and int(acc.extra["updates"]) == 3
  assert [float(m["train/lr"]) for m in acc_metrics] == pytest.approx(
    [0.1, 0.09, 0.08]
  )


def test_accumulated_step_against_float64_numpy():
  """One SGD step from the closed-form gradient of the full batch, with the
  centre and teacher EMAs applied once."""
  acc, _ = _run_toy(4, steps=1)
  method = _toy_method()
  w0, _ = method.init(jax.random.key(0), None)
  w0 = np.asarray(w0["w"], np.float64)
  b = jax.tree.map(lambda a: np.asarray(a, np.float64), _toy_batch(0))
  grad = 2 * b["x"].T @ (b["x"] @ w0 - b["y"]) / N
  w1 = w0 - 0.1 * grad
  np.testing.assert_allclose(acc.params["w"], w1, rtol=1e-5)
  np.testing.assert_allclose(
    acc.extra["center"], (1 - MOMENTUM) * b["y"].mean(), rtol=1e-6
  )
  np.testing.assert_allclose(
    acc.extra["teacher"], MOMENTUM * w0 + (1 - MOMENTUM) * w1, rtol=1e-5
  )
  assert int(acc.extra["updates"]) == 1


def _gpt_config(k):
  config = configs_lib.load("configs/gpt_quick.py", "smoke")
  config.method.dropout = 0.0
  config.method.attention_dropout = 0.0
  config.optim.name = "adamw"
  config.train.accumulate_steps = k
  return configs_lib.validate(config)


def test_gpt_accumulation_matches_the_full_batch():
  """A real method (causal LM, no dropout, no padding: every sequence
  scores the same number of tokens) under the real setup and mesh."""
  out = {}
  for k in (1, 2):
    config = _gpt_config(k)
    spec = kinds.get(config.data.kind).batch_spec(config)
    run = setup_lib.build(config, spec)
    state = run.init(run.init_key)
    r = np.random.default_rng(0)
    shape = spec["tokens"].shape
    batch = {
      "tokens": jnp.asarray(
        r.integers(0, 50, size=shape), spec["tokens"].dtype
      ),
      "is_pad": jnp.zeros(shape, bool),
    }
    batch = {
      key: batch[key] if key in batch else jnp.zeros(s.shape, s.dtype)
      for key, s in spec.items()
    }
    for _ in range(2):
      state, metrics = run.train_step(state, batch)
    out[k] = (jax.device_get(state.params), jax.device_get(metrics))
  chex.assert_trees_all_close(out[2][0], out[1][0], rtol=2e-4, atol=2e-5)
  for key in ("train/loss", "train/grad_norm", "train/accuracy"):
    np.testing.assert_allclose(out[2][1][key], out[1][1][key], rtol=1e-4)


@pytest.mark.parametrize(
  "name", ["simclr", "supcon", "mocov3", "barlow_twins", "vicreg", "swav"]
)
def test_batch_coupled_methods_refuse_accumulation(name):
  config = configs_lib.make_smoke(configs_lib.base_config(name))
  config.train.accumulate_steps = 2
  config = configs_lib.validate(config)
  method = methods.build(config)
  assert method.batch_coupled
  mesh = jax.make_mesh((1, 1), ("data", "model"))
  with pytest.raises(
    ValueError, match=rf"train.accumulate_steps=2: method '{name}'"
  ) as e:
    setup_lib.check_accumulation(2, 16, mesh, method)
  assert "\n" not in str(e.value)


def test_batch_must_divide_by_k_times_the_data_axis():
  mesh = jax.make_mesh((8, 1), ("data", "model"))
  method = _toy_method()
  setup_lib.check_accumulation(2, 16, mesh, method)  # 2 x 8 rows: fine
  with pytest.raises(
    ValueError,
    match=r"batch_size=16 must divide by train.accumulate_steps=4 times "
    r"the mesh's data axis \(8\)",
  ):
    setup_lib.check_accumulation(4, 16, mesh, method)


def test_accumulate_steps_range():
  config = configs_lib.load("configs/mae_quick.py", "smoke")
  config.train.accumulate_steps = 0
  with pytest.raises(ValueError, match=r"config.train.accumulate_steps=0"):
    configs_lib.validate(config)
