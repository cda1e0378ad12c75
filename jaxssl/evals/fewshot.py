"""Protocol `fewshot`: linear probes on k labelled examples per class.

The frozen features (`Method.features`, inference mode) of the memory-bank
split (`config.data.train_split`, capped as in `representation`:
`eval.max_train_examples`, at the end of the run
`eval.final_max_train_examples`) and of `config.data.eval_split` are
extracted once per evaluation. For each k in `SHOTS` and each of `DRAWS`
fixed seeds, a class-balanced subset of k examples per class is drawn from
the bank (the training split only: the eval split is never a training
example), and a softmax classifier is fitted on it with the L-BFGS logistic
regression of `jaxssl.evals.linear` at the fixed L2 strength `L2` (1 to 25
examples per class leave nothing to hold out for choosing one). Features
are standardised with the statistics of the whole bank (unlabelled
features, as in the semi-supervised protocol), and every draw of one k is
fitted in one vmapped call.

Metrics (%), for k in 1, 5, 10, 25:
  eval/fewshot_{k}shot      mean test top-1 over the draws;
  eval/fewshot_{k}shot_std  their standard deviation (ddof=0).
A k for which some class has fewer than k bank examples is left out (and
logged), never scored on a smaller subset.

Baselines, scored once at step 0: the step-0 encoder (`_random_init`) and
the normalised raw pixels (`_raw_pixels`).

Draw d of k uses `numpy.random.default_rng((SEED, k, d))`: the subsets
depend only on the bank's labels, so every method (and every baseline) on
the same data sees the same subsets.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxssl.evals import linear, representation
from jaxssl.evals.base import Context

SHOTS = (1, 5, 10, 25)
DRAWS = 5
SEED = 0
L2 = 1e-2  # of `l2 / 2 * ||W||^2` beside the mean cross-entropy


def fewshot_subsets(
  labels: np.ndarray, *, shots: int, draws: int, num_classes: int
) -> np.ndarray | None:
  """[draws, shots * num_classes] indices into `labels`, class-balanced.

  Each row holds `shots` distinct indices of every class (class-major),
  drawn without replacement with the seed (SEED, shots, draw). None when a
  class has fewer than `shots` examples.
  """
  labels = np.asarray(labels)
  by_class = [np.flatnonzero(labels == c) for c in range(num_classes)]
  if min(len(idx) for idx in by_class) < shots:
    return None
  rows = []
  for d in range(draws):
    rng = np.random.default_rng((SEED, shots, d))
    picks = [rng.choice(idx, shots, replace=False) for idx in by_class]
    rows.append(np.concatenate(picks))
  return np.stack(rows)


@functools.partial(jax.jit, static_argnames=("num_classes",))
def _fit_and_score(x, y, test_x, test_y, l2, *, num_classes):
  """Test top-1 (%) of one classifier per leading row of x [g, n, d]."""

  def one(x, y):
    params = linear.fit(x, y, l2, num_classes=num_classes)
    pred = jnp.argmax(test_x @ params["w"] + params["b"], axis=-1)
    return 100.0 * jnp.mean(pred == test_y)

  return jax.vmap(one)(x, y)


def fewshot_scores(
  bank_x,
  bank_y,
  test_x,
  test_y,
  *,
  num_classes: int,
  shots=SHOTS,
  draws: int = DRAWS,
  l2: float = L2,
) -> dict[str, float]:
  """{"eval/fewshot_{k}shot", "eval/fewshot_{k}shot_std"} of frozen features.

  Args:
    bank_x: [m, d] training-split features; bank_y: [m] int labels.
    test_x: [q, d] eval-split features; test_y: [q] int labels.
    num_classes: number of classes.
    shots: the k values; a k some class cannot fill is left out.
    draws: subsets per k.
    l2: the probe's L2 strength.
  """
  bank_x, test_x = linear.standardize(bank_x, test_x)
  bank_y = np.asarray(bank_y)
  test_y = jnp.asarray(test_y, jnp.int32)
  out = {}
  for k in shots:
    subsets = fewshot_subsets(
      bank_y, shots=k, draws=draws, num_classes=num_classes
    )
    if subsets is None:
      logging.warning(
        "fewshot: a class has fewer than %d examples in the bank "
        "(eval.max_train_examples / eval.final_max_train_examples); "
        "eval/fewshot_%dshot left out",
        k,
        k,
      )
      continue
    accs = np.asarray(
      _fit_and_score(
        jnp.asarray(bank_x[subsets]),
        jnp.asarray(bank_y[subsets], jnp.int32),
        jnp.asarray(test_x),
        test_y,
        jnp.float32(l2),
        num_classes=num_classes,
      ),
      np.float64,
    )
    out[f"eval/fewshot_{k}shot"] = float(accs.mean())
    out[f"eval/fewshot_{k}shot_std"] = float(accs.std())
  return out


class FewShot(representation.Representation):
  """Few-shot probes of a method's frozen features (module docstring)."""

  def _score(self, bank, queries) -> dict[str, float]:
    (bank_x, bank_y), (query_x, query_y) = bank, queries
    return fewshot_scores(
      bank_x, bank_y, query_x, query_y, num_classes=self._num_classes
    )

  def baselines(self, state) -> dict[str, float]:
    """Random-init encoder (`state` at step 0) and raw pixels."""
    out = {
      f"{k}_random_init": v for k, v in self.evaluate(state, final=True).items()
    }
    pixels = self._score(*self._splits(self._pixels, True))
    out.update({f"{k}_raw_pixels": v for k, v in pixels.items()})
    return out


def build(context: Context) -> FewShot:
  return FewShot(context)
