"""Measures ResNet train-step speed: images/s of fwd + bwd + SGD under jit.

    python -m jaxssl.models.benchmark --models tiny_resnet,resnet18_cifar \
        --impls xla,matmul --batch 256 --steps 3

The step is what a method's step costs minus the loss: forward in train mode
(BatchNorm batch statistics), a scalar of the features, gradients, an SGD
update; it compares backbones and conv implementations, which configs do not
select. `python -m jaxssl.bench --config ...` times a config's full step.
Keep runs short on shared machines.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax

from jaxssl.models import resnet


def train_step_speed(
  model, *, batch: int = 256, size: int = 32, steps: int = 3, seed: int = 0
) -> dict[str, float]:
  """Compiles and times a train step of `model` on random images.

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
  out = step(params, stats, opt_state, images)
  jax.block_until_ready(out)
  compile_s = time.perf_counter() - t0
  times = []
  for _ in range(steps):
    t0 = time.perf_counter()
    out = step(*out[:3], images)
    jax.block_until_ready(out)
    times.append(time.perf_counter() - t0)
  times.sort()
  return {
    "images_per_s": batch / times[0],
    "median_images_per_s": batch / times[len(times) // 2],
    "compile_s": compile_s,
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--models", default="tiny_resnet")
  parser.add_argument("--impls", default="xla,matmul")
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--size", type=int, default=32)
  parser.add_argument("--steps", type=int, default=3)
  args = parser.parse_args()
  print(
    f"{'model':<16}{'impl':<9}{'best img/s':>11}{'median':>9}{'compile s':>11}"
  )
  for name in args.models.split(","):
    for impl in args.impls.split(","):
      model = getattr(resnet, name)(conv_impl=impl)
      r = train_step_speed(
        model, batch=args.batch, size=args.size, steps=args.steps
      )
      print(
        f"{name:<16}{impl:<9}{r['images_per_s']:>11.1f}"
        f"{r['median_images_per_s']:>9.1f}{r['compile_s']:>11.1f}",
        flush=True,
      )


if __name__ == "__main__":
  main()
