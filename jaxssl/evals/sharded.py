"""Running a jitted function over host-held rows, across the mesh and hosts.

The text protocols build their inputs on the host (paragraph halves,
prompts, an evenly spaced memory bank of windows): every process holds the
same NumPy rows, cut into global batches of `batch_size`. Process p feeds
its slice of each global batch (`mesh.to_global`, sharded over "data"), the
function runs once on the global batch under `jit`, and the outputs are
gathered back to every host (`process_allgather`), as
`jaxssl.evals.representation` does with the data kind's eval batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxssl.train import mesh as mesh_lib

Rows = dict[str, np.ndarray]


def batch_unit(mesh) -> int:
  """The least global batch that splits over the data axis and the hosts."""
  return math.lcm(mesh.shape[mesh_lib.DATA], jax.process_count())


def global_batches(
  rows: Rows, mesh, batch_size: int, *, pad: dict | None = None
) -> Iterator[tuple[int, dict]]:
  """(number of real rows, global sharded batch) over `rows` in order.

  Args:
    rows: {name: [n, ...] array}, the same on every process.
    mesh: the ("data", "model") mesh.
    batch_size: the global batch, divisible by `batch_unit(mesh)`.
    pad: {name: fill value} for the rows that fill the last batch (0 for
      names not given); a bool "valid" [b] marks the real rows.
  """
  pad = pad or {}
  n = len(next(iter(rows.values())))
  count, index = jax.process_count(), jax.process_index()
  local = batch_size // count
  for start in range(0, n, batch_size):
    real = min(batch_size, n - start)
    host = {}
    for name, x in rows.items():
      chunk = x[start : start + batch_size]
      if real < batch_size:
        fill = np.full(
          (batch_size - real,) + x.shape[1:], pad.get(name, 0), x.dtype
        )
        chunk = np.concatenate([chunk, fill])
      host[name] = chunk[index * local : (index + 1) * local]
    valid = np.arange(batch_size) < real
    host["valid"] = valid[index * local : (index + 1) * local]
    yield real, mesh_lib.to_global(host, mesh)


def gathered(x) -> np.ndarray:
  """A global array as one NumPy array on every host."""
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def map_rows(
  fn: Callable[[dict], jax.Array],
  rows: Rows,
  mesh,
  batch_size: int,
  *,
  pad: dict | None = None,
) -> np.ndarray:
  """`fn(batch)` [b, ...] of every row of `rows`, concatenated: [n, ...].

  `fn` is jitted by the caller; it gets the global batch with "valid".
  """
  out = []
  for real, batch in global_batches(rows, mesh, batch_size, pad=pad):
    out.append(gathered(fn(batch))[:real])
  return np.concatenate(out)
