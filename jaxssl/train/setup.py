"""Everything a run builds from its config before the first step.

Shared by the training loop and the benchmark, so both time and run the
same compiled step on the same mesh and shardings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
from jax.sharding import Mesh

from jaxssl import methods
from jaxssl.data import kinds
from jaxssl.methods import online_probe
from jaxssl.train import checkpoint as ckpt_lib
from jaxssl.train import mesh as mesh_lib
from jaxssl.train import optim
from jaxssl.train import sharding as sharding_lib
from jaxssl.train import state as state_lib
from jaxssl.train import step as step_lib


@dataclasses.dataclass(frozen=True)
class Setup:
  """The mesh, method, optimizer, state layout and jitted step of a run.

  Attributes:
    mesh: the ("data", "model") mesh from `config.mesh`.
    method: the `jaxssl.methods.Method`.
    tx: the optax optimizer; `lr_schedule` maps step -> learning rate.
    init: `init(init_key) -> TrainState`, jitted with `state_sharding`.
    init_key: the key `init` takes (split from `config.seed`).
    state_shapes: abstract TrainState (shapes and dtypes).
    state_sharding: its shardings, from the rules and FSDP of `config.mesh`
      (`jaxssl.train.sharding`); the params are born with them.
    train_step: `step(state, batch) -> (state, metrics)`, jitted, donating
      the state.
  """

  mesh: Mesh
  method: methods.Method
  tx: Any
  lr_schedule: Callable[[Any], Any]
  init: Callable[[jax.Array], state_lib.TrainState]
  init_key: jax.Array
  state_shapes: Any
  state_sharding: Any
  train_step: Callable[..., Any]

  def abstract_state(self):
    """ShapeDtypeStructs with shardings: the Orbax restore / AOT target."""
    return ckpt_lib.abstract(self.state_shapes, self.state_sharding)


def check_accumulation(k: int, batch_size: int, mesh, method) -> None:
  """One-line ValueErrors for `train.accumulate_steps` k that cannot work."""
  if k == 1:
    return
  if method.batch_coupled:
    raise ValueError(
      f"config.train.accumulate_steps={k}: method {method.name!r} cannot "
      f"accumulate gradients ({method.batch_coupled}): set it to 1"
    )
  n_data = mesh.shape["data"]
  if batch_size % (k * n_data):
    raise ValueError(
      f"config.train.batch_size={batch_size} must divide by "
      f"train.accumulate_steps={k} times the mesh's data axis ({n_data}): "
      "each micro-batch is split over the data axis"
    )


def build(config, batch_spec) -> Setup:
  """Builds the run's pieces for global batches shaped like `batch_spec`.

  Raises:
    ValueError: naming the config key when the mesh, batch size, method or
      model does not fit.
  """
  t = config.train
  mesh = mesh_lib.make_mesh(config.mesh)
  mesh_lib.check_batch_size(t.batch_size, mesh, "train.batch_size")
  method = methods.build(config)
  check_accumulation(t.accumulate_steps, t.batch_size, mesh, method)
  if t.online_probe:
    info = kinds.get(config.data.kind).info(config)
    method = online_probe.with_online_probe(method, info.num_classes)
  tx, lr_schedule = optim.make(
    config.optim,
    t.batch_size,
    t.total_steps,
    param_labels=method.param_labels,
    param_groups=method.param_groups,
  )
  init_key, step_key = jax.random.split(jax.random.key(config.seed))
  init = state_lib.init_fn(method, tx, batch_spec)
  shapes = jax.eval_shape(init, init_key)
  replicated = mesh_lib.replicated(mesh)
  state_sh = sharding_lib.shardings(shapes, config.mesh, mesh)
  train_step = jax.jit(
    step_lib.make_train_step(
      method,
      tx,
      lr_schedule,
      step_key,
      skip_nonfinite=t.nan_policy == "skip",
      accumulate_steps=t.accumulate_steps,
    ),
    donate_argnums=(0,),
    out_shardings=(state_sh, replicated),
  )
  return Setup(
    mesh=mesh,
    method=method,
    tx=tx,
    lr_schedule=lr_schedule,
    init=jax.jit(init, out_shardings=state_sh),
    init_key=init_key,
    state_shapes=shapes,
    state_sharding=state_sh,
    train_step=train_step,
  )
