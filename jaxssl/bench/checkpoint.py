r"""`python -m jaxssl.bench checkpoint`: what an async save costs the loop.

  python -m jaxssl.bench checkpoint --config configs/byol_imagenet.py \
      --batch_size 2
  python -m jaxssl.bench checkpoint --config configs/mae_imagenet.py \
      --batch_size 2 --dir /mnt/local_ssd/bench

Builds the config's run as the training loop does (synthetic batches of its
shapes, as `step`; the checkpointer sees the state's layout before the step
compiles, so the hash program compiles ahead) and saves its train state with
`jaxssl.train.checkpoint.Checkpointer` into `--dir` (default: a temporary
directory, removed after). After compilation and warm-up it reports, as
JSON, medians over the repeats:

- `step_s`: a train step, nothing saved;
- `blocked_s`: how long `Checkpointer.maybe_save` holds the loop, the state
  ready before the call: Orbax's copy of the arrays to the host, the
  dispatch of the fingerprint's hashes on device, Orbax's bookkeeping;
  `first_save_blocked_s` the same for the process's first save;
- `background_s`: from its return until the checkpoint is complete on disk
  (arrays written, hashes fetched and written, the directory renamed),
  waited for at once with nothing else running;
- `step_while_writing_s`: a step started as a save returns, while it
  writes: on a CPU backend the write and the step share the cores;
- `sync_fingerprint_s`: the fingerprint computed and fetched at once, what
  a save held the loop for before the hashes moved to the background;
- `restore_s`: restoring and verifying the last checkpoint;
- `blocked_over_step`, `background_over_step`: the ratios to `step_s`, and
  `state_bytes`, the bytes of the whole train state.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time

import jax
import numpy as np


def _median(values):
  return statistics.median(values)


def bench_checkpoint(
  config,
  *,
  directory: str | None = None,
  repeats: int = 3,
  saves: int = 3,
  warmup: int = 1,
) -> dict:
  """Times `config`'s train step with and without an async save.

  Args:
    config: a validated-or-not ConfigDict (validated here).
    directory: where the checkpoints go; None: a temporary directory,
      removed after.
    repeats: timed steps without saving.
    saves: timed saves (each timed blocked, then in the background) and,
      as many again, steps timed while a save writes.
    warmup: untimed steps after compiling.

  Returns:
    The fields of the module docstring, plus the config's name, batch size,
    device count and parameter count.
  """
  # Imported here so the other sub-commands do not load the training code.
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.bench import step as step_bench  # pylint: disable=g-import-not-at-top
  from jaxssl.train import checkpoint as ckpt_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.train import setup as setup_lib  # pylint: disable=g-import-not-at-top

  if min(repeats, saves) < 1 or warmup < 0:
    raise ValueError(
      f"repeats={repeats} and saves={saves} must be >= 1, warmup={warmup} >= 0"
    )
  config = configs_lib.validate(config)
  spec = step_bench.batch_spec(config)
  run = setup_lib.build(config, spec)
  mesh = run.mesh
  batch_sh = jax.tree.map(lambda _: mesh_lib.data_sharding(mesh), spec)
  rng = np.random.default_rng(0)
  batch = {
    k: jax.device_put(step_bench._synthetic(rng, k, s, config), batch_sh[k])  # pylint: disable=protected-access
    for k, s in spec.items()
  }
  owned = directory is None
  if owned:
    directory = tempfile.mkdtemp(prefix="jaxssl_bench_ckpt_")
  checkpointer = ckpt_lib.Checkpointer(directory, every_steps=1, max_to_keep=2)
  try:
    if checkpointer.all_steps():
      raise ValueError(f"--dir {directory} already holds checkpoints")
    # As the loop does: the hash program compiles while the step does.
    checkpointer.restore_latest(run.abstract_state())
    state = run.init(run.init_key)
    holder = [state]

    def step():
      holder[0], _ = run.train_step(holder[0], batch)
      jax.block_until_ready(holder[0])

    t0 = time.perf_counter()
    step()
    compile_s = time.perf_counter() - t0
    for _ in range(warmup):
      step()
    step_times = []
    for _ in range(repeats):
      t0 = time.perf_counter()
      step()
      step_times.append(time.perf_counter() - t0)

    saved = [0]

    def save():
      """Seconds `maybe_save` blocks, then seconds until it is on disk."""
      saved[0] += 1
      t0 = time.perf_counter()
      checkpointer.maybe_save(saved[0], holder[0], force=True)
      t1 = time.perf_counter()
      checkpointer.wait_until_finished()
      return t1 - t0, time.perf_counter() - t1

    step()
    first_blocked, first_background = save()
    blocked, background = [], []
    for _ in range(saves):
      step()
      b, g = save()
      blocked.append(b)
      background.append(g)
    while_writing = []
    for _ in range(saves):
      step()
      saved[0] += 1
      checkpointer.maybe_save(saved[0], holder[0], force=True)
      t0 = time.perf_counter()
      step()
      while_writing.append(time.perf_counter() - t0)
      checkpointer.wait_until_finished()

    ckpt_lib.fingerprint(holder[0])  # compiles the synchronous variant
    sync_fp = []
    for _ in range(saves):
      t0 = time.perf_counter()
      ckpt_lib.fingerprint(holder[0])
      sync_fp.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    restored = checkpointer.restore(run.abstract_state(), saved[0])
    jax.block_until_ready(restored)
    restore_s = time.perf_counter() - t0
    del restored
  finally:
    checkpointer.close(quiet=True)
    if owned:
      shutil.rmtree(directory, ignore_errors=True)

  step_s = _median(step_times)
  result = {
    "config": f"{config.method.name}/{config.model.name}/{config.data.name}",
    "batch_size": config.train.batch_size,
    "devices": int(mesh.devices.size),
    "params": sum(int(x.size) for x in jax.tree.leaves(holder[0].params)),
    "state_bytes": sum(int(x.nbytes) for x in jax.tree.leaves(holder[0])),
    "leaves": len(jax.tree.leaves(holder[0])),
    "compile_s": round(compile_s, 2),
    "step_s": step_s,
    "blocked_s": _median(blocked),
    "background_s": _median(background),
    "step_while_writing_s": _median(while_writing),
    "first_save_blocked_s": first_blocked,
    "first_save_background_s": first_background,
    "sync_fingerprint_s": _median(sync_fp),
    "restore_s": restore_s,
  }
  result["blocked_over_step"] = result["blocked_s"] / step_s
  result["background_over_step"] = result["background_s"] / step_s
  return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """The flags of `python -m jaxssl.bench checkpoint`."""
  parser.add_argument(
    "--config",
    required=True,
    help="config file, optionally path.py:arg, or a shipped config's name",
  )
  parser.add_argument(
    "--batch_size", type=int, default=0, help="override config.train.batch_size"
  )
  parser.add_argument(
    "--set",
    action="append",
    default=[],
    metavar="KEY=VALUE",
    help="override a config key, as in `step` (repeatable)",
  )
  parser.add_argument(
    "--dir",
    default="",
    help="where the checkpoints go (an empty or new directory, left in "
    "place); default: a temporary directory, removed after",
  )
  parser.add_argument(
    "--repeats", type=int, default=3, help="timed steps without saving"
  )
  parser.add_argument(
    "--saves", type=int, default=3, help="timed saves (median reported)"
  )
  parser.add_argument(
    "--warmup", type=int, default=1, help="untimed steps after compiling"
  )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
  """Benchmarks `--config`, printing the result as JSON."""
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.bench import step as step_bench  # pylint: disable=g-import-not-at-top

  try:
    config = configs_lib.load(args.config)
  except FileNotFoundError as e:
    parser.error(str(e))
  except ValueError as e:
    parser.error(f"--config {args.config}: {e}")
  if args.batch_size:
    config.train.batch_size = args.batch_size
  for item in args.set:
    try:
      step_bench.set_key(config, item)
    except ValueError as e:
      parser.error(f"--set {item}: {e}")
  try:
    result = bench_checkpoint(
      config,
      directory=args.dir or None,
      repeats=args.repeats,
      saves=args.saves,
      warmup=args.warmup,
    )
  except ValueError as e:
    parser.error(str(e))
  print(json.dumps({"file": args.config, **result}, indent=2), flush=True)
