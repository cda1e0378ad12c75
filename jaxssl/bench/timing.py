"""What the benchmarks share: wall time of jitted calls, and their tables.

Every benchmark times a call that has already been compiled (and warmed up,
where the caller wants it), waiting for its result with
`jax.block_until_ready`, and reports the median (or the best) of the repeats.
`matmul_gflops` measures the float32 matmul throughput of the machine in the
same run, the ceiling (and, on a shared CPU, a load gauge) to read the other
numbers against.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def seconds(fn: Callable[[], Any], repeats: int) -> list[float]:
  """Wall seconds of `repeats` calls of `fn()`, each waited for.

  Args:
    fn: a call without arguments whose result holds jax arrays (a compiled
      step: compilation is not excluded here, so call it once before).
    repeats: how many calls to time, >= 1.

  Returns:
    The seconds of each call, in call order.
  """
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return times


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
  """Median of `seconds(fn, repeats)`."""
  return statistics.median(seconds(fn, repeats))


def matmul_gflops(
  shape: tuple[int, int, int] = (2048, 2048, 2048), repeats: int = 5
) -> float:
  """Achieved GFLOP/s of a float32 [m, k] x [k, n] matmul right now.

  Args:
    shape: (m, k, n). The train-step benchmark uses a square 2048 matmul
      (the machine's ceiling); the loss benchmark a [4096, 256] x [256, 4096]
      one, the shape of its similarity matrices (nt_xent is matmul-bound).
    repeats: timed calls after the compiling one; the median is reported.

  Returns:
    2·m·k·n / median seconds / 1e9.
  """
  m, k, n = shape
  a = jnp.ones((m, k), jnp.float32)
  b = jnp.ones((k, n), jnp.float32)
  mm = jax.jit(jnp.matmul)
  jax.block_until_ready(mm(a, b))  # compile
  return 2 * m * k * n / median_seconds(lambda: mm(a, b), repeats) / 1e9


def format_table(rows: list[dict[str, Any]]) -> str:
  """Rows of equal keys as aligned plain-text columns, a header line first."""
  if not rows:
    return ""
  keys = list(rows[0])
  widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
  lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
  for r in rows:
    lines.append("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths)))
  return "\n".join(line.rstrip() for line in lines)
