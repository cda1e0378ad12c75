"""Protocol `representation`: frozen-feature kNN and linear probe.

The method's backbone features (`Method.features`, inference mode) of the
memory-bank split (`config.data.train_split`, at most
`config.eval.max_train_examples`; at the end of the run and for the
baselines at most `config.eval.final_max_train_examples`) and of
`config.data.eval_split` are extracted once per evaluation and scored by the
weighted kNN (DINO's: k = `eval.knn_k`, T = `eval.knn_temperature`, cosine)
and, with `config.eval.linear_probe`, by an offline linear probe (L-BFGS
logistic regression on un-augmented features, L2 chosen on a held-out 10%
of the bank: `jaxssl.evals.linear`). It is not the papers' linear
evaluation (SGD or LARS on augmented crops for 90-100 epochs), which scores
a few points higher on ImageNet.

Baselines, scored once at step 0 with the same probes: the encoder at its
random initialisation (`_random_init`), the normalised raw pixels
(`_raw_pixels`), and the top `eval.pca_components` principal components of
the raw pixels, fitted on the bank split (`_pca`: PCA is the linear,
closed-form case of reconstruction SSL).

Metrics: eval/knn_top1, eval/knn_top5, eval/linear_top1, eval/linear_top5
(%), each also with the baseline suffixes. Top-5: fewer than 5 classes score
strictly above the true one (kNN: and the true class has a vote).
"""

from __future__ import annotations

import hashlib
import json
import os

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


# The eval keys the raw-pixel and PCA scores depend on.
_PIXEL_EVAL_KEYS = (
  "knn_k",
  "knn_temperature",
  "max_train_examples",
  "final_max_train_examples",
  "linear_probe",
  "linear_steps",
  "pca_components",
)


def pixel_cache_path(config) -> str | None:
  """Where the raw-pixel / PCA scores of `config`'s data are cached, or None.

  They depend only on the data and the probes' settings, not on the method,
  so every run on the same data shares them (`python -m jaxssl.zoo` scores
  them once instead of once per method). Only the embedded dataset is
  cached: it is versioned, so a cached score cannot go stale; a folder or a
  TFDS build can change on disk under the same name.
  """
  from jaxssl.data import embedded  # pylint: disable=g-import-not-at-top

  if config.data.name != embedded.NAME:
    return None
  data = {k: v for k, v in config.data.to_dict().items() if k != "views"}
  key = {
    "data": data,
    "eval": {k: config.eval[k] for k in _PIXEL_EVAL_KEYS},
    "dataset_version": embedded.version(),
    # Bumped when the scores change (2: top-5 beside top-1), so that caches
    # written by an older jaxssl are not read back without the new keys.
    "scores_version": 2,
  }
  digest = hashlib.sha256(
    json.dumps(key, sort_keys=True, default=str).encode()
  ).hexdigest()[:16]
  return os.path.join(embedded.cache_dir(), "baselines", f"{digest}.json")


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

  def _splits(self, fn, final: bool) -> tuple[Split, Split]:
    c = self._config
    cap = c.eval.max_train_examples
    if final and c.eval.final_max_train_examples >= 0:
      cap = c.eval.final_max_train_examples
    bank = self._extract(fn, c.data.train_split, cap)
    return bank, self._extract(fn, c.data.eval_split, 0)

  def _score(self, bank: Split, queries: Split) -> dict[str, float]:
    c = self._config
    (bank_x, bank_y), (query_x, query_y) = bank, queries
    knn_acc = knn.knn_topk(
      bank_x,
      bank_y,
      query_x,
      query_y,
      k=c.eval.knn_k,
      temperature=c.eval.knn_temperature,
      num_classes=self._num_classes,
      ks=(1, 5),
    )
    out = {"eval/knn_top1": knn_acc[1], "eval/knn_top5": knn_acc[5]}
    if c.eval.linear_probe:
      probe = linear.linear_probe(
        bank_x,
        bank_y,
        query_x,
        query_y,
        num_classes=self._num_classes,
        steps=c.eval.linear_steps,
      )
      out["eval/linear_top1"] = probe["top1"]
      out["eval/linear_top5"] = probe["top5"]
    return out

  def evaluate(self, state, *, final: bool = False) -> dict[str, float]:
    """eval/{knn,linear}_top{1,5} (%) of the features at `state`."""
    fn = lambda b: self._features(state.params, state.extra, b)
    return self._score(*self._splits(fn, final))

  def raw_pixels(self) -> dict[str, float]:
    """The scores of the normalised raw pixels and of their PCA (cached)."""
    path = pixel_cache_path(self._config)
    if path is not None and os.path.exists(path):
      with open(path, encoding="utf-8") as f:
        return json.load(f)
    out = self._score_pixels()
    if path is not None and jax.process_index() == 0:
      os.makedirs(os.path.dirname(path), exist_ok=True)
      tmp = f"{path}.{os.getpid()}.tmp"
      with open(tmp, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
      os.replace(tmp, path)  # atomic: concurrent runs never read half a file
    return out

  def _score_pixels(self) -> dict[str, float]:
    (bank_x, bank_y), (query_x, query_y) = self._splits(self._pixels, True)
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
      f"{k}_random_init": v for k, v in self.evaluate(state, final=True).items()
    }
    return {**self.raw_pixels(), **random_init}


def build(context: Context) -> Representation:
  return Representation(context)
