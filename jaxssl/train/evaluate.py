"""Evaluation inside training: frozen-feature kNN and its baselines."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from jaxssl.data import pipeline
from jaxssl.evals import knn
from jaxssl.train import mesh as mesh_lib


class KnnEvaluator:
  """Extracts features of the train (memory bank) and eval splits; scores kNN.

  The feature function is compiled once and reused for every evaluation.
  """

  def __init__(self, config, method, mesh, num_classes: int):
    self._config = config
    self._mesh = mesh
    self._num_classes = num_classes
    mesh_lib.check_batch_size(config.eval.batch_size, mesh, "eval.batch_size")
    out_sh = mesh_lib.data_sharding(mesh)
    self._features = jax.jit(method.features, out_shardings=out_sh)
    self._pixels = jax.jit(lambda x: x.reshape(x.shape[0], -1),
                           out_shardings=out_sh)

  def _extract(self, fn, split: str, max_examples: int):
    c = self._config
    feats, labels = [], []
    for host_batch in pipeline.eval_batches(
        c, split, batch_size=c.eval.batch_size // jax.process_count(),
        max_examples=max_examples):
      batch = mesh_lib.to_global(host_batch, self._mesh)
      f = fn(batch["image"])
      gathered = multihost_utils.process_allgather(
          {"f": f, "y": batch["label"], "valid": batch["valid"]}, tiled=True)
      keep = np.asarray(gathered["valid"])
      feats.append(np.asarray(gathered["f"])[keep])
      labels.append(np.asarray(gathered["y"])[keep])
    return np.concatenate(feats), np.concatenate(labels)

  def _score(self, fn) -> float:
    c = self._config
    bank, bank_y = self._extract(fn, c.data.train_split,
                                 c.eval.max_train_examples)
    queries, query_y = self._extract(fn, c.data.eval_split, 0)
    return knn.knn_top1(bank, bank_y, queries, query_y, k=c.eval.knn_k,
                        temperature=c.eval.knn_temperature,
                        num_classes=self._num_classes)

  def knn(self, state) -> float:
    """kNN top-1 (%) of the method's frozen features at `state`."""
    return self._score(lambda x: self._features(state.params, state.extra, x))

  def raw_pixels(self) -> float:
    """kNN top-1 (%) of the normalised raw pixels (a floor to beat)."""
    return self._score(self._pixels)
