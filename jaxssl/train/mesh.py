"""The device mesh and how host batches become global sharded arrays."""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA = "data"
MODEL = "model"


def make_mesh(mesh_config, devices=None) -> Mesh:
  """Builds the ("data", "model") mesh from `config.mesh`.

  Axis types are Auto: the step is written for global arrays and XLA
  inserts the collectives (all-gather of negatives, global BatchNorm).

  Raises:
    ValueError: naming `config.mesh.*` when the devices do not fit.
  """
  devices = list(jax.devices() if devices is None else devices)
  n = len(devices)
  model = mesh_config.model
  data = mesh_config.data
  if data == -1:
    if n % model:
      raise ValueError(
        f"config.mesh.model={model} does not divide the {n} visible devices"
      )
    data = n // model
  if data * model > n:
    hint = ""
    if jax.default_backend() == "cpu":
      hint = (
        f"; on CPU, fake devices with XLA_FLAGS="
        f"--xla_force_host_platform_device_count={data * model}"
      )
    raise ValueError(
      f"config.mesh.data={data} x config.mesh.model={model} "
      f"needs {data * model} devices, but {n} are visible"
      f"{hint}"
    )
  grid = np.asarray(devices[: data * model]).reshape(data, model)
  return Mesh(grid, (DATA, MODEL), axis_types=(AxisType.Auto, AxisType.Auto))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def data_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over "data"; the rest replicated."""
  return NamedSharding(mesh, P(DATA))


def check_batch_size(batch_size: int, mesh: Mesh, key: str) -> None:
  """Raises naming `key` if the global batch does not split evenly."""
  n_data = mesh.shape[DATA]
  n_proc = jax.process_count()
  if batch_size % n_data or batch_size % n_proc:
    raise ValueError(
      f"config.{key}={batch_size} is not divisible by the data-parallel "
      f"size {n_data} (mesh.data) and the process count {n_proc}"
    )


def to_global(host_batch, mesh: Mesh):
  """Host-local numpy batch (a pytree) -> global arrays sharded over "data"."""
  sharding = data_sharding(mesh)
  return jax.tree.map(
    lambda x: jax.make_array_from_process_local_data(sharding, x), host_batch
  )
