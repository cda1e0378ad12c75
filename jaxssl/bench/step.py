r"""`python -m jaxssl.bench step`: the compiled train step of a config.

  python -m jaxssl.bench step --config configs/simclr_cifar10.py
  python -m jaxssl.bench --config configs/simclr_imagenet.py --compile_only
  python -m jaxssl.bench --compile_only --markdown \
      --config configs/byol_imagenet.py --config configs/dino_imagenet.py

`step` is the default sub-command: `python -m jaxssl.bench --config ...` runs
it. The benchmark feeds synthetic batches of the config's shapes (the input
pipeline is not timed), excludes compilation and warm-up, and reports the
median over repeats as JSON: images/s, images/s/device, XLA's FLOP count per
step and per image, achieved GFLOP/s, and the GFLOP/s of a plain float32
matmul measured in the same run (the ceiling on this machine). Throughput is
in examples per second (each example carries all its views); for text
(batches with "tokens", [b, seq_len] ids), also tokens/s and tokens/s/device,
counting every position of the window, and the synthetic token ids are
drawn uniformly from the run's vocabulary (the tokenizer's size) with no
padding.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxssl.bench.timing import matmul_gflops, median_seconds


def batch_spec(config) -> dict[str, jax.ShapeDtypeStruct]:
  """Global training-batch shapes of a config (what its data kind yields)."""
  from jaxssl.data import kinds  # pylint: disable=g-import-not-at-top

  return kinds.get(config.data.kind).batch_spec(config)


def _flops(compiled) -> float:
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return float((cost or {}).get("flops", float("nan")))


def bench_step(
  config, *, repeats: int = 5, warmup: int = 2, compile_only: bool = False
) -> dict:
  """Times (or only compiles) the train step of `config`."""
  # Imported here so the other sub-commands do not load the training code.
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.train import setup as setup_lib  # pylint: disable=g-import-not-at-top

  configs_lib.validate(config)
  b = config.train.batch_size
  spec = batch_spec(config)
  run = setup_lib.build(config, spec)
  mesh = run.mesh
  batch_sh = jax.tree.map(lambda _: mesh_lib.data_sharding(mesh), spec)
  abstract_batch = jax.tree.map(
    lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh),
    spec,
    batch_sh,
  )
  t0 = time.perf_counter()
  compiled = run.train_step.lower(
    run.abstract_state(), abstract_batch
  ).compile()
  compile_s = time.perf_counter() - t0
  flops = _flops(compiled)
  n_params = sum(
    int(np.prod(x.shape)) for x in jax.tree.leaves(run.state_shapes.params)
  )
  result = {
    "config": f"{config.method.name}/{config.model.name}/{config.data.name}",
    "batch_size": b,
    "devices": int(mesh.devices.size),
    "params": n_params,
    "compile_s": round(compile_s, 2),
    "gflop_per_step": flops / 1e9,
    "gflop_per_image": flops / b / 1e9,
  }
  if compile_only:
    return result
  state = run.init(run.init_key)
  rng = np.random.default_rng(0)
  batch = {
    k: jax.device_put(_synthetic(rng, k, s, config), batch_sh[k])
    for k, s in spec.items()
  }
  holder = [state]

  def one_step():
    holder[0], metrics = compiled(holder[0], batch)
    return metrics

  for _ in range(warmup):
    jax.block_until_ready(one_step())
  sec = median_seconds(one_step, repeats)
  ceiling = matmul_gflops()
  result.update(
    {
      "step_s_median": sec,
      "images_per_s": b / sec,
      "images_per_s_per_device": b / sec / mesh.devices.size,
      "achieved_gflop_per_s": flops / sec / 1e9,
      "matmul_f32_gflop_per_s": ceiling,
      "fraction_of_matmul": flops / sec / 1e9 / ceiling,
    }
  )
  if "tokens" in spec:
    tokens = int(np.prod(spec["tokens"].shape))
    result["tokens_per_s"] = tokens / sec
    result["tokens_per_s_per_device"] = tokens / sec / mesh.devices.size
    result["gflop_per_token"] = flops / tokens / 1e9
  return result


def _synthetic(rng, key: str, spec, config) -> np.ndarray:
  """A synthetic batch entry: normal floats, token ids in the vocabulary."""
  if jnp.issubdtype(spec.dtype, jnp.floating):
    return rng.standard_normal(spec.shape).astype(spec.dtype)
  if key == "tokens":
    # Zeros would be one special id ([PAD]) everywhere: a degenerate text.
    from jaxssl.data.kinds import tokens  # pylint: disable=g-import-not-at-top

    high = tokens.get_tokenizer(config)[0].get_vocab_size()
    return rng.integers(0, high, spec.shape).astype(spec.dtype)
  return np.zeros(spec.shape, spec.dtype)


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """The flags of `python -m jaxssl.bench step`."""
  parser.add_argument(
    "--config",
    required=True,
    action="append",
    help="config file, optionally path.py:arg, or a config shipped with "
    "jaxssl by name from any directory (quickstart:smoke); repeat the flag "
    "to benchmark several configs one after another",
  )
  parser.add_argument(
    "--repeats", type=int, default=5, help="timed steps (median reported)"
  )
  parser.add_argument(
    "--warmup", type=int, default=2, help="untimed steps after compiling"
  )
  parser.add_argument(
    "--batch_size", type=int, default=0, help="override config.train.batch_size"
  )
  parser.add_argument(
    "--compile_only",
    action="store_true",
    help="only lower + compile: params and FLOPs/image",
  )
  parser.add_argument(
    "--markdown",
    action="store_true",
    help="print a markdown table (one row per config) instead of JSON",
  )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
  """Benchmarks every `--config` in turn, printing each result as it comes."""
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top

  for i, path in enumerate(args.config):
    try:
      config = configs_lib.load(path)
    except FileNotFoundError as e:
      parser.error(str(e))
    except ValueError as e:
      parser.error(f"--config {path}: {e}")
    if args.batch_size:
      config.train.batch_size = args.batch_size
    result = {
      "file": path,
      **bench_step(
        config,
        repeats=args.repeats,
        warmup=args.warmup,
        compile_only=args.compile_only,
      ),
    }
    # Rows are printed as they come, so a long sweep shows progress and
    # keeps what it measured if it is stopped.
    if args.markdown:
      lines = markdown_table([result]).splitlines()
      print("\n".join(lines if i == 0 else lines[2:]), flush=True)
    else:
      print(json.dumps(result, indent=2), flush=True)
    jax.clear_caches()  # one config's executables must not pile up


def markdown_table(results: list[dict]) -> str:
  """One row per `bench_step` result (with its "file"): cost at a glance."""
  timed = all("images_per_s" in r for r in results)
  head = (
    "| config | method / model / data | batch | params | "
    "GFLOP / example | compile |" + (" examples/s |" if timed else "")
  )
  rows = [head, "|" + "---|" * (head.count("|") - 1)]
  for r in results:
    row = (
      f"| {os.path.basename(r['file'])} | {r['config']} | "
      f"{r['batch_size']} | {r['params'] / 1e6:.1f}M | "
      f"{r['gflop_per_image']:.2f} | {r['compile_s']:.0f} s |"
    )
    if timed:
      row += f" {r['images_per_s']:.1f} |"
    rows.append(row)
  return "\n".join(rows)
