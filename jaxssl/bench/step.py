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
matmul measured in the same run (the ceiling on this machine). Both modes
report the compiled step's per-device memory: the bytes of one device's
shard of the parameters, optimizer state and whole train state under the
run's shardings (`config.mesh.fsdp`, the "model" axis rules), and XLA's
memory analysis (argument, output, aliased and temporary bytes).

  python -m jaxssl.bench --compile_only --config configs/mae_imagenet.py \
      --set mesh.fsdp=true --set model.remat=true Throughput is
in examples per second (each example carries all its views); for text
(batches with "tokens", [b, seq_len] ids), also tokens/s and tokens/s/device,
counting every position of the window, and the synthetic token ids are
drawn uniformly from the run's vocabulary (the tokenizer's size) with no
padding.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxssl import overrides
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


def _memory(compiled, run) -> dict:
  """Per-device bytes: XLA's memory analysis and the state's own shares.

  `params_bytes_per_device` / `opt_state_bytes_per_device` /
  `state_bytes_per_device` add up one device's shard of each array of the
  train state (its params, optimizer state, whole state) under the run's
  shardings. XLA's `argument_bytes` (the state and batch in), `output_bytes`
  (the state and metrics out; donated state aliases its input, counted in
  `alias_bytes`) and `temp_bytes` (activations and other scratch) are those
  of the compiled step on one device; `peak_bytes_estimate` is arguments +
  outputs - aliased + temporaries.
  """
  # Imported here so the other sub-commands do not load the training code.
  from jaxssl.train import sharding as sharding_lib  # pylint: disable=g-import-not-at-top

  shapes, sh = run.state_shapes, run.state_sharding
  out = {
    "params_bytes_per_device": sharding_lib.bytes_per_device(
      shapes.params, sh.params
    ),
    "opt_state_bytes_per_device": sharding_lib.bytes_per_device(
      shapes.opt_state, sh.opt_state
    ),
    "state_bytes_per_device": sharding_lib.bytes_per_device(shapes, sh),
  }
  try:
    mem = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except  # not every backend
    mem = None
  if mem is not None:
    fields = {
      "argument_bytes": "argument_size_in_bytes",
      "output_bytes": "output_size_in_bytes",
      "alias_bytes": "alias_size_in_bytes",
      "temp_bytes": "temp_size_in_bytes",
    }
    for key, attr in fields.items():
      out[key] = int(getattr(mem, attr, 0) or 0)
    out["peak_bytes_estimate"] = (
      out["argument_bytes"]
      + out["output_bytes"]
      - out["alias_bytes"]
      + out["temp_bytes"]
    )
  return out


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
  memory = _memory(compiled, run)
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
    "mesh": dict(mesh.shape),
    "fsdp": bool(config.mesh.fsdp),
    "remat": bool(config.model.remat),
    **memory,
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
    "--set",
    action="append",
    default=[],
    metavar="KEY=VALUE",
    help="override a config key, e.g. --set mesh.fsdp=true --set "
    "mesh.model=2 (repeatable; the value's type follows the key's default)",
  )
  parser.add_argument(
    "--compile_only",
    action="store_true",
    help="only lower + compile: params, FLOPs/image and the per-device "
    "memory of the compiled step (state shares, XLA's argument / output / "
    "temp bytes)",
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
    for item in args.set:
      try:
        set_key(config, item)
      except ValueError as e:
        parser.error(f"--set {item}: {e}")
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


def set_key(config, item: str) -> None:
  """Sets `config.<key>` from `key=value`, typed like the key's value.

  Raises:
    ValueError: no `=`, an unknown key, or a value of the wrong type.
  """
  key, eq, text = item.partition("=")
  if not eq:
    raise ValueError("expected KEY=VALUE, e.g. mesh.fsdp=true")
  try:
    section, leaf = overrides.locate(config, key)
  except ValueError:
    raise ValueError(f"unknown config key {key!r}") from None
  old = section[leaf]
  if isinstance(old, bool):
    if text.lower() not in ("true", "false", "1", "0"):
      raise ValueError(f"config.{key} is a bool: true or false")
    value = text.lower() in ("true", "1")
  elif isinstance(old, (int, float)):
    try:
      value = type(old)(text)
    except ValueError:
      raise ValueError(
        f"config.{key} is {type(old).__name__}, got {text!r}"
      ) from None
  elif isinstance(old, str):
    value = text
  else:
    try:
      value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      raise ValueError(
        f"config.{key}: {text!r} is not a Python literal"
      ) from None
  with config.unlocked():
    section[leaf] = value


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
