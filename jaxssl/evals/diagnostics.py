"""Protocol `diagnostics`: alignment, uniformity and RankMe of features.

Label-free measures of a representation, on the method's frozen backbone
features (`Method.features`, inference mode), L2-normalised for alignment
and uniformity (f below), raw for RankMe:

  eval/uniformity  log( 1 / (n (n - 1)) * sum_{i != j}
                   exp(-2 ||f(x_i) - f(x_j)||^2) ) over the n images of
                   `config.data.eval_split` (Wang & Isola's t = 2; lower
                   is more uniform, -4 is the limit for points spread over
                   a high-dimensional sphere);
  eval/alignment   1 / P * sum_p ||f(v_p) - f(v'_p)||^2 (alpha = 2; lower
                   is better) over P = `ALIGN_PAIRS` positive pairs: two
                   augmented views of the same training image. The views
                   are the run's own: the first group of `config.data.views`
                   with >= 2 views at `config.data.image_size` (views v0 and
                   v1), taken from the training pipeline from step 0. A run
                   without such a group (kind `images`, or multi-crop with
                   no two full-size views) gets two views of SimCLR's
                   default recipe (`data.kinds.views.view_group()` at
                   `data.image_size`). Other kinds (`image_text`, text)
                   have no image views: eval/alignment is left out;
  eval/rankme      exp( -sum_k p_k log p_k ), p_k = s_k / sum_j s_j + 1e-7,
                   s the singular values of the [n, d] eval-split feature
                   matrix (Garrido et al.'s effective rank, uncentred as in
                   the paper; between 1 and min(n, d)).

Baselines, scored once at step 0: the step-0 encoder (`_random_init`) and
the normalised raw pixels (`_raw_pixels`).

References:
  Wang & Isola, Understanding Contrastive Representation Learning through
  Alignment and Uniformity on the Hypersphere, arXiv:2005.10242.
  Garrido et al., RankMe: Assessing the Downstream Performance of
  Pretrained Self-Supervised Representations by Their Rank,
  arXiv:2210.02885.
"""

from __future__ import annotations

import itertools
import math

import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from jaxssl.evals import representation
from jaxssl.evals.base import Context
from jaxssl.train import mesh as mesh_lib

ALIGN_PAIRS = 1024  # positive pairs for eval/alignment (whole batches)
RANKME_EPS = 1e-7
_CHUNK = 1024


def _unit(x) -> np.ndarray:
  x = np.asarray(x, np.float64)
  return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def uniformity(x, *, t: float = 2.0) -> float:
  """log mean_{i != j} exp(-t ||u_i - u_j||^2), u the L2-normalised rows."""
  u = _unit(x)
  n = len(u)
  if u.ndim != 2 or n < 2:
    raise ValueError(f"uniformity: needs [n, d] with n >= 2, got {u.shape}")
  total = 0.0
  for s in range(0, n, _CHUNK):
    sq = np.maximum(2.0 - 2.0 * u[s : s + _CHUNK] @ u.T, 0.0)
    g = np.exp(-t * sq)
    rows = np.arange(s, min(s + _CHUNK, n))
    g[np.arange(len(rows)), rows] = 0.0  # i != j
    total += g.sum()
  return float(np.log(total / (n * (n - 1))))


def alignment(x, y, *, alpha: float = 2.0) -> float:
  """mean_p ||u_p - w_p||^alpha of the L2-normalised paired rows."""
  u, w = _unit(x), _unit(y)
  if u.shape != w.shape or u.ndim != 2 or not len(u):
    raise ValueError(f"alignment: pairs {u.shape} and {w.shape} differ")
  return float(np.mean(np.linalg.norm(u - w, axis=1) ** alpha))


def rankme(x, *, eps: float = RANKME_EPS) -> float:
  """exp(entropy) of the L1-normalised singular values of x [n, d] (+ eps)."""
  x = np.asarray(x, np.float64)
  if x.ndim != 2 or not x.size:
    raise ValueError(f"rankme: needs a non-empty [n, d], got {x.shape}")
  s = np.linalg.svd(x, compute_uv=False)
  p = s / max(s.sum(), 1e-300) + eps
  return float(np.exp(-np.sum(p * np.log(p))))


def pair_config(config) -> tuple[ml_collections.ConfigDict, str] | None:
  """(config of the `views` pipeline, its two-view group) for alignment."""
  from jaxssl.data.kinds import (  # pylint: disable=g-import-not-at-top
    views as views_kind,
  )

  if config.data.kind not in ("views", "images"):
    return None
  if config.data.kind == "views":
    for name, group in config.data.views.items():
      if group.num_views >= 2 and group.size == config.data.image_size:
        return config, name
  pairs = ml_collections.ConfigDict(config.to_dict())
  pairs.data.views = ml_collections.ConfigDict(
    {"pairs": views_kind.view_group(size=config.data.image_size)}
  )
  return pairs, "pairs"


class Diagnostics(representation.Representation):
  """Alignment, uniformity and RankMe (see the module docstring)."""

  def __init__(self, context: Context):
    super().__init__(context)
    self._pairs = pair_config(context.config)

  def _views(self, fn) -> tuple[np.ndarray, np.ndarray]:
    """Features of views 0 and 1 of `ALIGN_PAIRS` training images."""
    from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

    config, group = self._pairs
    steps = math.ceil(ALIGN_PAIRS / config.train.batch_size)
    first, second = [], []
    for host in itertools.islice(pipeline.train_batches(config), steps):
      views = host[group]
      valid = np.ones(len(views), bool)
      for out, v in ((first, 0), (second, 1)):
        batch = mesh_lib.to_global(
          {"image": views[:, v], "label": host["label"], "valid": valid},
          self._mesh,
        )
        out.append(
          np.asarray(multihost_utils.process_allgather(fn(batch), tiled=True))
        )
    return np.concatenate(first), np.concatenate(second)

  def _diagnose(self, fn) -> dict[str, float]:
    c = self._config
    test_x, _ = self._extract(fn, c.data.eval_split, 0)
    out = {
      "eval/uniformity": uniformity(test_x),
      "eval/rankme": rankme(test_x),
    }
    if self._pairs is not None:
      out["eval/alignment"] = alignment(*self._views(fn))
    return out

  def evaluate(self, state, *, final: bool = False) -> dict[str, float]:
    """eval/alignment, eval/uniformity, eval/rankme of the features."""
    del final  # the whole eval split at every evaluation
    fn = lambda b: self._features(state.params, state.extra, b)
    return self._diagnose(fn)

  def baselines(self, state) -> dict[str, float]:
    """Random-init encoder (`state` at step 0) and raw pixels."""
    out = {f"{k}_random_init": v for k, v in self.evaluate(state).items()}
    pixels = self._diagnose(self._pixels)
    out.update({f"{k}_raw_pixels": v for k, v in pixels.items()})
    return out


def build(context: Context) -> Diagnostics:
  return Diagnostics(context)
