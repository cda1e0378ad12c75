"""`python -m jaxssl.bench losses`: loss timings and compiled peak memory.

  python -m jaxssl.bench losses [--mode time|memory|all] [--json]

Time mode reports the median milliseconds of a jitted `value_and_grad`
(compile and warm-up excluded) for the cases of the loss-library acceptance,
beside the float32 matmul GFLOP/s measured in the same run. Memory mode
reports XLA's compiled memory analysis (`.lower(...).compile()
.memory_analysis()`) of dense vs blockwise contrastive losses at N = 16,384
and 65,536 (d = 256): nothing is allocated, so the O(N²) dense cases can be
measured on any machine.
"""

import argparse
import functools
import json
import statistics

import jax
import jax.numpy as jnp
import numpy as np

from jaxssl import losses
from jaxssl.bench import timing


def _time_case(fn, args, repeats):
  """Median ms of fn(*args) (jitted value_and_grad), warm-up excluded."""
  step = jax.jit(jax.value_and_grad(fn, argnums=0))
  jax.block_until_ready(step(*args))  # compile
  jax.block_until_ready(step(*args))  # warm-up
  ms = [s * 1e3 for s in timing.seconds(lambda: step(*args), repeats)]
  return statistics.median(ms), min(ms)


def _normal(seed, shape):
  return jnp.asarray(
    np.random.default_rng(seed).normal(size=shape), jnp.float32
  )


def timing_cases(quick=False):
  """(name, shape label, fn of a differentiated first arg, args, repeats)."""
  big = 1024 if quick else 4096
  cases = []
  for n, d, reps in ((512, 128, 30), (big, 256, 5)):
    z1, z2 = _normal(0, (n, d)), _normal(1, (n, d))
    cases.append(
      (
        "nt_xent",
        f"({n}, {d})",
        lambda a, b: losses.nt_xent(a, b),
        (z1, z2),
        reps,
      )
    )
    cases.append(
      (
        "nt_xent_blockwise",
        f"({n}, {d}) block=512",
        lambda a, b: losses.nt_xent_blockwise(a, b, block_size=512),
        (z1, z2),
        reps,
      )
    )
  k = 1024 if quick else 4096
  student = _normal(2, (8, 64, k))
  teacher = _normal(3, (2, 64, k))
  center = jnp.zeros((k,), jnp.float32)
  cases.append(
    (
      "dino",
      f"batch 64, 2+6 views, k={k}",
      lambda s, t: losses.dino(s, t, center),
      (student, teacher),
      10,
    )
  )
  feats = _normal(4, (512, 2, 128))
  labels = jnp.asarray(np.arange(512) % 100, jnp.int32)
  cases.append(
    (
      "supcon",
      "(512, 2 views, 128), 100 classes",
      lambda f: losses.supcon(f, labels),
      (feats,),
      20,
    )
  )
  return cases


def run_timing(repeats_scale=1.0, quick=False):
  rows = []
  for name, shape, fn, args, reps in timing_cases(quick):
    reps = max(3, int(reps * repeats_scale))
    median, best = _time_case(fn, args, reps)
    rows.append(
      {
        "loss": name,
        "shape": shape,
        "median_ms": round(median, 3),
        "min_ms": round(best, 3),
        "repeats": reps,
      }
    )
  return rows


def _memory_fns(block_size):
  bw = functools.partial
  return {
    "nt_xent": (
      losses.nt_xent,
      bw(losses.nt_xent_blockwise, block_size=block_size),
    ),
    "info_nce": (
      losses.info_nce,
      bw(losses.info_nce_blockwise, block_size=block_size),
    ),
    "clip": (
      bw(losses.clip, logit_scale=10.0),
      bw(losses.clip_blockwise, logit_scale=10.0, block_size=block_size),
    ),
    "siglip": (
      bw(losses.siglip, t=10.0, b=-10.0),
      bw(losses.siglip_blockwise, t=10.0, b=-10.0, block_size=block_size),
    ),
  }


def compiled_memory(fn, n, d):
  """XLA's memory analysis of jit(value_and_grad(fn)) on [n, d] inputs."""
  spec = jax.ShapeDtypeStruct((n, d), jnp.float32)
  compiled = (
    jax.jit(jax.value_and_grad(fn, argnums=(0, 1))).lower(spec, spec).compile()
  )
  mem = compiled.memory_analysis()
  # On CPU `peak_memory_in_bytes` leaves out the temporaries, so the peak is
  # taken as arguments + outputs + temporaries (minus aliased buffers).
  peak = (
    mem.argument_size_in_bytes
    + mem.output_size_in_bytes
    + mem.temp_size_in_bytes
    - mem.alias_size_in_bytes
  )
  return {"temp_bytes": int(mem.temp_size_in_bytes), "peak_bytes": int(peak)}


def run_memory(sizes=(16384, 65536), d=256, block_size=1024, names=None):
  rows = []
  for n in sizes:
    for name, (dense, tiled) in _memory_fns(block_size).items():
      if names and name not in names:
        continue
      for form, fn in (("dense", dense), (f"block={block_size}", tiled)):
        mem = compiled_memory(fn, n, d)
        rows.append(
          {
            "loss": name,
            "N": n,
            "d": d,
            "form": form,
            "peak_MiB": round(mem["peak_bytes"] / 2**20, 1),
            "temp_MiB": round(mem["temp_bytes"] / 2**20, 1),
          }
        )
  return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """The flags of `python -m jaxssl.bench losses`."""
  parser.add_argument(
    "--mode",
    choices=("time", "speed", "memory", "all"),
    default="time",
    help="time: forward+backward ms; memory: XLA's compiled memory of dense "
    "vs blockwise losses; speed is an alias of time",
  )
  parser.add_argument(
    "--json", action="store_true", help="print JSON instead of a table"
  )
  parser.add_argument(
    "--quick",
    action="store_true",
    help="smaller shapes and repeats (smoke test)",
  )
  parser.add_argument(
    "--block_size",
    type=int,
    default=1024,
    help="block size of the blockwise losses (memory mode)",
  )
  parser.add_argument(
    "--sizes",
    type=int,
    nargs="+",
    default=[16384, 65536],
    help="batch sizes N of the memory mode (d = 256)",
  )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
  """Runs the loss benchmark and prints a table (or JSON)."""
  del parser  # every flag is checked by argparse
  if args.mode == "speed":
    args.mode = "time"
  result = {
    "backend": jax.default_backend(),
    "devices": jax.device_count(),
    "jax": jax.__version__,
  }
  if args.mode in ("time", "all"):
    # [n, d] x [d, n], the shape of the nt_xent similarities (matmul-bound):
    # on a shared CPU it says how loaded the machine was.
    result["matmul_gflops"] = round(timing.matmul_gflops((4096, 256, 4096)), 1)
    result["time"] = run_timing(0.2 if args.quick else 1.0, args.quick)
  if args.mode in ("memory", "all"):
    result["memory"] = run_memory(
      tuple(args.sizes), d=256, block_size=args.block_size
    )
  if args.json:
    print(json.dumps(result, indent=1))
    return
  print(
    f"backend={result['backend']} devices={result['devices']} "
    f"jax={result['jax']}"
  )
  if "time" in result:
    print(f"\nf32 matmul reference: {result['matmul_gflops']} GFLOP/s")
    print("forward+backward (jit value_and_grad), ms:")
    print(timing.format_table(result["time"]))
  if "memory" in result:
    print("\ncompiled memory of value_and_grad (XLA memory_analysis):")
    print(timing.format_table(result["memory"]))
