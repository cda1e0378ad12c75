"""Evaluation inside training: frozen-feature kNN, linear probe, baselines.

Features of the memory-bank (train) split and the eval split are extracted
once per evaluation and scored by both the weighted kNN and, when
`config.eval.linear_probe`, the offline linear probe.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from jaxssl.data import pipeline
from jaxssl.evals import knn, linear
from jaxssl.train import mesh as mesh_lib


class Evaluator:
  """Extracts features of the train (memory bank) and eval splits; scores them.

  The feature function is compiled once and reused for every evaluation.
  """

  def __init__(self, config, method, mesh, num_classes: int):
    self._config = config
    self._mesh = mesh
    self._num_classes = num_classes
    mesh_lib.check_batch_size(config.eval.batch_size, mesh, "eval.batch_size")
    out_sh = mesh_lib.data_sharding(mesh)
    self._features = jax.jit(method.features, out_shardings=out_sh)
    self._pixels = jax.jit(
      lambda b: b["image"].reshape(b["image"].shape[0], -1),
      out_shardings=out_sh,
    )

  def _extract(self, fn, split: str, max_examples: int):
    c = self._config
    feats, labels = [], []
    for host_batch in pipeline.eval_batches(
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

  def _score(self, fn) -> dict[str, float]:
    c = self._config
    bank, bank_y = self._extract(
      fn, c.data.train_split, c.eval.max_train_examples
    )
    queries, query_y = self._extract(fn, c.data.eval_split, 0)
    out = {
      "knn_top1": knn.knn_top1(
        bank,
        bank_y,
        queries,
        query_y,
        k=c.eval.knn_k,
        temperature=c.eval.knn_temperature,
        num_classes=self._num_classes,
      )
    }
    if c.eval.linear_probe:
      out["linear_top1"] = linear.linear_probe(
        bank,
        bank_y,
        queries,
        query_y,
        num_classes=self._num_classes,
        steps=c.eval.linear_steps,
      )["top1"]
    return out

  def scores(self, state) -> dict[str, float]:
    """{"knn_top1", "linear_top1"} (%) of the method's features at `state`."""
    return self._score(lambda x: self._features(state.params, state.extra, x))

  def raw_pixels(self) -> dict[str, float]:
    """The same scores of the normalised raw pixels (a floor to beat)."""
    return self._score(self._pixels)

  def figure_batch(self) -> dict[str, jax.Array] | None:
    """A fixed batch of `eval.num_figures` eval examples for Method.figures."""
    c = self._config
    n = c.eval.num_figures
    if n <= 0:
      return None
    batch = next(
      iter(
        pipeline.eval_batches(
          c, c.data.eval_split, batch_size=n, max_examples=n
        )
      )
    )
    return {k: jnp.asarray(v) for k, v in batch.items()}
