"""Offline linear probe: multinomial logistic regression on frozen features.

Pure JAX. The standard protocol of the SSL literature, sized for datasets
whose features fit in memory (the embedded digits, CIFAR, STL-10, ImageNet
subsets at a few hundred dimensions):

  1. Features are standardised with the training split's per-dimension mean
     and standard deviation (a BatchNorm without affine parameters, as the
     linear probes of MAE and solo-learn).
  2. A softmax classifier W, b minimises the (weighted) mean cross-entropy
     plus `l2 / 2 * ||W||^2` with full-batch L-BFGS (`optax.lbfgs` with a
     backtracking line search, ~1 function evaluation per iteration) for a
     fixed number of iterations: deterministic, no learning rate to tune.
  3. The L2 strength is chosen on a held-out part of the training split
     (`holdout` fraction, class-mixed by a fixed permutation) from `l2_grid`,
     then the classifier is refit on the whole training split with it. All
     fits share one compiled program: the grid is vmapped, and the held-out
     examples are masked by zero sample weights rather than sliced away.

The objective equals scikit-learn's `LogisticRegression(C=1 / (l2 * n))`
(multinomial, L2 on the weights only) divided by n, which the tests use as the
reference.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

L2_GRID = (1e-5, 1e-4, 1e-3, 1e-2)


def _objective(params, x, y, weights, l2):
  logits = x @ params["w"] + params["b"]
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
  ce = jnp.sum(weights * ce) / jnp.sum(weights)
  return ce + 0.5 * l2 * jnp.sum(params["w"] ** 2)


@functools.partial(jax.jit, static_argnames=("num_classes", "steps"))
def fit(
  x: jax.Array,
  y: jax.Array,
  l2,
  *,
  num_classes: int,
  steps: int = 100,
  weights: jax.Array | None = None,
) -> dict[str, jax.Array]:
  """Fits L2-regularised softmax classifiers with L-BFGS.

  Args:
    x: [n, d] float features (already standardised).
    y: [n] int labels in [0, num_classes).
    l2: strength of `l2 / 2 * ||W||^2` added to the mean cross-entropy; a
      scalar, or a vector [g] to fit g classifiers at once.
    num_classes: number of classes.
    steps: L-BFGS iterations.
    weights: optional [n] sample weights (0 leaves an example out).

  Returns:
    {"w": [d, num_classes], "b": [num_classes]} float32, with a leading [g]
    axis when `l2` is a vector.
  """
  x = jnp.asarray(x, jnp.float32)
  if weights is None:
    weights = jnp.ones(x.shape[:1], jnp.float32)
  opt = optax.lbfgs(
    linesearch=optax.scale_by_backtracking_linesearch(
      max_backtracking_steps=20, store_grad=True
    )
  )

  def one(l2):
    params = {
      "w": jnp.zeros((x.shape[1], num_classes), jnp.float32),
      "b": jnp.zeros((num_classes,), jnp.float32),
    }
    fun = functools.partial(_objective, x=x, y=y, weights=weights, l2=l2)
    value_and_grad = optax.value_and_grad_from_state(fun)

    def body(carry, _):
      params, state = carry
      value, grad = value_and_grad(params, state=state)
      updates, state = opt.update(
        grad, state, params, value=value, grad=grad, value_fn=fun
      )
      return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(
      body, (params, opt.init(params)), None, length=steps
    )
    return params

  l2 = jnp.asarray(l2, jnp.float32)
  return jax.vmap(one)(l2) if l2.ndim else one(l2)


def _accuracy(params, x, y) -> float:
  pred = jnp.argmax(x @ params["w"] + params["b"], axis=-1)
  return float(100.0 * jnp.mean(pred == y))


def topk_accuracy(logits, y, k: int) -> float:
  """Top-k accuracy (%): fewer than k classes score strictly above y's."""
  logits = np.asarray(logits)
  y = np.asarray(y)
  true = logits[np.arange(len(y)), y]
  return float(100.0 * np.mean(np.sum(logits > true[:, None], axis=-1) < k))


def moments(train) -> tuple[np.ndarray, np.ndarray]:
  """Per-dimension (mean, std + 1e-6) of [n, d] features, float64: the
  statistics `standardize` uses."""
  train = np.asarray(train, np.float64)
  return train.mean(axis=0), train.std(axis=0) + 1e-6


def _scaled(x, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
  return ((np.asarray(x, np.float64) - mean) / std).astype(np.float32)


def standardize(train: np.ndarray, *others: np.ndarray):
  """Standardises `train` and `others` with `train`'s per-dimension stats."""
  mean, std = moments(train)
  return [_scaled(x, mean, std) for x in (train, *others)]


def choose_l2(
  x,
  y,
  *,
  num_classes: int,
  l2_grid=L2_GRID,
  holdout: float = 0.1,
  steps: int = 100,
  seed: int = 0,
) -> tuple[float, float]:
  """(l2, held-out top-1 %) of the best of `l2_grid` on standardised `x`.

  A held-out `holdout` fraction of `x` (a fixed permutation seeded with
  `seed`) scores one fit per grid value on the rest; with a one-value grid
  that value is returned with a NaN score, unfitted.
  """
  if len(l2_grid) == 1:
    return float(l2_grid[0]), float("nan")
  x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32)
  hold = np.random.default_rng(seed).permutation(len(x))
  hold = hold[: round(holdout * len(x))]
  weights = np.ones(len(x), np.float32)
  weights[hold] = 0.0
  fits = fit(
    x,
    y,
    np.asarray(l2_grid, np.float32),
    num_classes=num_classes,
    steps=steps,
    weights=jnp.asarray(weights),
  )
  accs = [
    _accuracy(jax.tree.map(lambda p, i=i: p[i], fits), x[hold], y[hold])
    for i in range(len(l2_grid))
  ]
  best = int(np.argmax(accs))
  return float(l2_grid[best]), accs[best]


def probe_head(
  train_x,
  train_y,
  *,
  num_classes: int,
  l2_grid=L2_GRID,
  holdout: float = 0.1,
  steps: int = 100,
  seed: int = 0,
) -> dict[str, jax.Array]:
  """The linear probe's classifier as a head on the raw features.

  Fits `linear_probe`'s classifier (standardised features, L2 chosen on a
  held-out part, refit on all of `train_x`) and folds the standardisation
  into it: `x @ w + b` on raw [n, d] features equals the probe's logits.
  When the held-out part would hold fewer examples than classes (few-shot
  subsets) it cannot rank the grid: the strongest L2 of `l2_grid` is used.

  Returns:
    {"w": [d, num_classes], "b": [num_classes]} float32.
  """
  mean, std = moments(train_x)
  x = _scaled(train_x, mean, std)
  y = jnp.asarray(train_y, jnp.int32)
  if round(holdout * len(x)) < num_classes:
    l2_grid = (max(l2_grid),)
  l2, _ = choose_l2(
    x,
    y,
    num_classes=num_classes,
    l2_grid=l2_grid,
    holdout=holdout,
    steps=steps,
    seed=seed,
  )
  params = fit(x, y, l2, num_classes=num_classes, steps=steps)
  w = np.asarray(params["w"], np.float64) / std[:, None]
  b = np.asarray(params["b"], np.float64) - mean @ w
  return {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}


def linear_probe(
  train_x,
  train_y,
  test_x,
  test_y,
  *,
  num_classes: int,
  l2_grid=L2_GRID,
  holdout: float = 0.1,
  steps: int = 100,
  seed: int = 0,
) -> dict[str, float]:
  """Top-1 accuracy (%) of a linear classifier on frozen features.

  Args:
    train_x: [n, d] training-split features; train_y: [n] int labels.
    test_x: [m, d] evaluation-split features; test_y: [m] int labels.
    num_classes: number of classes.
    l2_grid: candidate L2 strengths, chosen on the held-out part.
    holdout: fraction of the training split held out to choose the L2.
    steps: L-BFGS iterations per fit.
    seed: of the held-out permutation.

  Returns:
    {"top1": test accuracy %, "top5": test top-5 accuracy % (fewer than 5
    classes score strictly above the true one), "l2": the chosen strength,
    "holdout_top1": its held-out accuracy %}.

  Raises:
    ValueError: mismatched shapes or too few examples to hold some out.
  """
  train_x, test_x = np.asarray(train_x), np.asarray(test_x)
  train_y, test_y = np.asarray(train_y), np.asarray(test_y)
  if (
    train_x.ndim != 2
    or test_x.ndim != 2
    or train_x.shape[1] != (test_x.shape[1])
  ):
    raise ValueError(
      "linear_probe: features must be [n, d] with the same d, "
      f"got train {train_x.shape}, test {test_x.shape}"
    )
  if len(train_x) != len(train_y) or len(test_x) != len(test_y):
    raise ValueError(
      "linear_probe: features and labels differ in length: "
      f"{len(train_x)} vs {len(train_y)}, {len(test_x)} vs "
      f"{len(test_y)}"
    )
  n_hold = round(holdout * len(train_x))
  if len(l2_grid) > 1 and not 0 < n_hold < len(train_x):
    raise ValueError(
      f"linear_probe: holdout={holdout} of {len(train_x)} "
      "training examples leaves nothing to fit or to score"
    )
  x, tx = standardize(train_x, test_x)
  y, ty = jnp.asarray(train_y, jnp.int32), jnp.asarray(test_y, jnp.int32)
  best_l2, best_acc = choose_l2(
    x,
    y,
    num_classes=num_classes,
    l2_grid=l2_grid,
    holdout=holdout,
    steps=steps,
    seed=seed,
  )
  params = fit(x, y, best_l2, num_classes=num_classes, steps=steps)
  logits = tx @ params["w"] + params["b"]
  return {
    "top1": _accuracy(params, tx, ty),
    "top5": topk_accuracy(logits, ty, 5),
    "l2": best_l2,
    "holdout_top1": best_acc,
  }
