"""Protocol `representation`: frozen-feature kNN and linear probe.

The method's backbone features (`Method.features`, inference mode) of the
memory-bank split (`config.data.train_split`, at most
`config.eval.max_train_examples`) and of `config.data.eval_split` are
extracted once per evaluation and scored by the weighted kNN (DINO's: k =
`eval.knn_k`, T = `eval.knn_temperature`, cosine) and, with
`config.eval.linear_probe`, by an offline linear probe (L-BFGS logistic
regression on un-augmented features, L2 chosen on a held-out 10% of the
bank: `jaxssl.evals.linear`).

Baselines, scored once at step 0 with the same probes: the encoder at its
random initialisation (`_random_init`), the normalised raw pixels
(`_raw_pixels`), and the top `eval.pca_components` principal components of
the raw pixels, fitted on the bank split (`_pca`: PCA is the linear,
closed-form case of reconstruction SSL).

Metrics: eval/knn_top1, eval/linear_top1 (%), each also with the baseline
suffixes.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxssl.evals import knn, linear
from jaxssl.evals.base import Context
from jaxssl.train import mesh as mesh_lib

Split = tuple[np.ndarray, np.ndarray]


def pca_project(
  bank: np.ndarray, *others: np.ndarray, components: int, seed: int = 0
) -> list[np.ndarray]:
  """`bank` and `others` on the top principal components of `bank`.

  scikit-learn's PCA (centred on the bank's mean, randomized SVD), with
  `components` capped at the bank's rank bound min(n, d).
  """
  from sklearn import decomposition  # pylint: disable=g-import-not-at-top

  bank = np.asarray(bank, np.float32)
  k = min(components, bank.shape[0], bank.shape[1])
  pca = decomposition.PCA(
    n_components=k, svd_solver="randomized", random_state=seed
  )
  out = [pca.fit_transform(bank)]
  out += [pca.transform(np.asarray(o, np.float32)) for o in others]
  return [o.astype(np.float32) for o in out]


class Representation:
  """Scores a method's frozen features (feature function compiled once)."""

  def __init__(self, context: Context):
    c = context.config
    self._config = c
    self._mesh = context.mesh
    self._kind = context.kind
    self._num_classes = context.info.num_classes
    mesh_lib.check_batch_size(c.eval.batch_size, self._mesh, "eval.batch_size")
    out_sh = mesh_lib.data_sharding(self._mesh)
    self._features = jax.jit(context.method.features, out_shardings=out_sh)
    self._pixels = jax.jit(
      lambda b: b["image"].reshape(b["image"].shape[0], -1),
      out_shardings=out_sh,
    )

  def _extract(self, fn, split: str, max_examples: int) -> Split:
    c = self._config
    feats, labels = [], []
    for host_batch in self._kind.eval_batches(
      c,
      split,
      batch_size=c.eval.batch_size // jax.process_count(),
      max_examples=max_examples,
    ):
      batch = mesh_lib.to_global(host_batch, self._mesh)
      f = fn(batch)
      gathered = multihost_utils.process_allgather(
        {"f": f, "y": batch["label"], "valid": batch["valid"]}, tiled=True
      )
      keep = np.asarray(gathered["valid"])
      feats.append(np.asarray(gathered["f"])[keep])
      labels.append(np.asarray(gathered["y"])[keep])
    return np.concatenate(feats), np.concatenate(labels)

  def _splits(self, fn) -> tuple[Split, Split]:
    c = self._config
    bank = self._extract(fn, c.data.train_split, c.eval.max_train_examples)
    return bank, self._extract(fn, c.data.eval_split, 0)

  def _score(self, bank: Split, queries: Split) -> dict[str, float]:
    c = self._config
    (bank_x, bank_y), (query_x, query_y) = bank, queries
    out = {
      "eval/knn_top1": knn.knn_top1(
        bank_x,
        bank_y,
        query_x,
        query_y,
        k=c.eval.knn_k,
        temperature=c.eval.knn_temperature,
        num_classes=self._num_classes,
      )
    }
    if c.eval.linear_probe:
      out["eval/linear_top1"] = linear.linear_probe(
        bank_x,
        bank_y,
        query_x,
        query_y,
        num_classes=self._num_classes,
        steps=c.eval.linear_steps,
      )["top1"]
    return out

  def evaluate(self, state) -> dict[str, float]:
    """{"eval/knn_top1", "eval/linear_top1"} (%) of the features at `state`."""
    fn = lambda b: self._features(state.params, state.extra, b)
    return self._score(*self._splits(fn))

  def raw_pixels(self) -> dict[str, float]:
    """The scores of the normalised raw pixels and of their PCA."""
    (bank_x, bank_y), (query_x, query_y) = self._splits(self._pixels)
    out = {
      f"{k}_raw_pixels": v
      for k, v in self._score((bank_x, bank_y), (query_x, query_y)).items()
    }
    bank_p, query_p = pca_project(
      bank_x, query_x, components=self._config.eval.pca_components
    )
    pca = self._score((bank_p, bank_y), (query_p, query_y))
    out.update({f"{k}_pca": v for k, v in pca.items()})
    return out

  def baselines(self, state) -> dict[str, float]:
    """Random-init encoder (`state` at step 0), raw pixels and PCA."""
    random_init = {
      f"{k}_random_init": v for k, v in self.evaluate(state).items()
    }
    return {**self.raw_pixels(), **random_init}


def build(context: Context) -> Representation:
  return Representation(context)
