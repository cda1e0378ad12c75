r"""`python -m jaxssl.bench backbones`: ResNet train-step speed per conv impl.

  python -m jaxssl.bench backbones --models tiny_resnet,resnet18_cifar \
      --impls xla,matmul --batch_size 256 --repeats 3

The step is what a method's step costs minus the loss: forward in train mode
(BatchNorm batch statistics), a scalar of the features, gradients, an SGD
update; it compares backbones and conv implementations, which configs do not
select (`python -m jaxssl.bench step --config ...` times a config's full
step). Keep runs short on shared machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import optax

from jaxssl.bench import timing
from jaxssl.models import resnet
from jaxssl.models.conv import IMPLS

# The ResNet constructors of `jaxssl.models.resnet` (each takes conv_impl).
MODELS = ("tiny_resnet", "resnet18_cifar", "resnet50_cifar", "resnet50")


def train_step_speed(
  model, *, batch: int = 256, size: int = 32, steps: int = 3, seed: int = 0
) -> dict[str, float]:
  """Compiles and times a train step of `model` on random images.

  Args:
    model: a backbone whose `__call__(images, train=)` returns "feats".
    batch: images per step.
    size: image height and width.
    steps: timed steps after the compiling one.
    seed: of the images and the initial parameters.

  Returns:
    dict with "images_per_s" from the fastest of `steps` timed steps after
    the compiling one (on a shared machine the fastest step is the one least
    slowed down by other jobs, as in `timeit`), "median_images_per_s" and
    "compile_s".
  """
  rng = jax.random.key(seed)
  images = jax.random.normal(rng, (batch, size, size, 3), jnp.float32)
  variables = model.init(rng, images[:2], train=False)
  params, stats = variables["params"], variables.get("batch_stats", {})
  tx = optax.sgd(0.1, momentum=0.9)
  opt_state = tx.init(params)

  def loss_fn(params, stats, images):
    out, new = model.apply(
      {"params": params, "batch_stats": stats},
      images,
      train=True,
      mutable=["batch_stats"],
    )
    return jnp.mean(jnp.square(out["feats"])), new["batch_stats"]

  @jax.jit
  def step(params, stats, opt_state, images):
    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      params, stats, images
    )
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state, loss

  t0 = time.perf_counter()
  holder = [jax.block_until_ready(step(params, stats, opt_state, images))]
  compile_s = time.perf_counter() - t0

  def one_step():
    holder[0] = step(*holder[0][:3], images)
    return holder[0]

  times = timing.seconds(one_step, steps)
  return {
    "images_per_s": batch / min(times),
    "median_images_per_s": batch / statistics.median(times),
    "compile_s": compile_s,
  }


def _names(value: str, choices: tuple[str, ...], flag: str, parser) -> list:
  names = [n for n in value.split(",") if n]
  unknown = [n for n in names if n not in choices]
  if unknown or not names:
    parser.error(f"{flag}: unknown {unknown or value!r}; choose from {choices}")
  return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """The flags of `python -m jaxssl.bench backbones`."""
  parser.add_argument(
    "--models",
    default="tiny_resnet",
    help=f"comma-separated, from {', '.join(MODELS)}",
  )
  parser.add_argument(
    "--impls",
    default=",".join(IMPLS),
    help="comma-separated conv implementations (see jaxssl.models.conv)",
  )
  parser.add_argument(
    "--batch_size", type=int, default=256, help="images per step"
  )
  parser.add_argument(
    "--size", type=int, default=32, help="image height and width"
  )
  parser.add_argument(
    "--repeats",
    type=int,
    default=3,
    help="timed steps after the compiling one (best and median reported)",
  )
  parser.add_argument(
    "--json", action="store_true", help="print JSON instead of a table"
  )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
  """Times every model x conv implementation and prints a row for each."""
  models = _names(args.models, MODELS, "--models", parser)
  impls = _names(args.impls, IMPLS, "--impls", parser)
  for flag in ("batch_size", "size", "repeats"):
    if getattr(args, flag) < 1:
      parser.error(f"--{flag}={getattr(args, flag)}: must be >= 1")
  rows = []
  if not args.json:
    print(
      f"{'model':<16}{'impl':<9}{'best img/s':>11}{'median':>9}"
      f"{'compile s':>11}",
      flush=True,
    )
  for name in models:
    for impl in impls:
      r = train_step_speed(
        getattr(resnet, name)(conv_impl=impl),
        batch=args.batch_size,
        size=args.size,
        steps=args.repeats,
      )
      rows.append(
        {
          "model": name,
          "impl": impl,
          "best_images_per_s": round(r["images_per_s"], 1),
          "median_images_per_s": round(r["median_images_per_s"], 1),
          "compile_s": round(r["compile_s"], 1),
        }
      )
      if not args.json:  # rows as they come: a long sweep shows progress
        print(
          f"{name:<16}{impl:<9}{r['images_per_s']:>11.1f}"
          f"{r['median_images_per_s']:>9.1f}{r['compile_s']:>11.1f}",
          flush=True,
        )
  if args.json:
    print(json.dumps({"backend": jax.default_backend(), "rows": rows}))
