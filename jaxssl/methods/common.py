"""Small helpers shared by method files (view handling, collapse metrics)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def single_group(config, *, num_views: int, method: str) -> str:
  """Name of the one view group a two-view method reads; raises if unfit."""
  groups = dict(config.data.views.items())
  if len(groups) != 1:
    raise ValueError(f"method {method!r} reads one view group, but "
                     f"config.data.views has {sorted(groups)}")
  (name, group), = groups.items()
  if group.num_views != num_views:
    raise ValueError(f"method {method!r} needs config.data.views.{name}."
                     f"num_views={num_views}, got {group.num_views}")
  return name


def merge_views(views: jax.Array) -> jax.Array:
  """[n, v, h, w, c] -> [v * n, h, w, c], view-major (rows 0..n-1 = view 0)."""
  if views.ndim != 5:
    raise ValueError(f"views must be [n, v, h, w, c], got {views.shape}")
  n, v = views.shape[:2]
  return jnp.swapaxes(views, 0, 1).reshape(v * n, *views.shape[2:])


def embedding_metrics(z1: jax.Array, z2: jax.Array) -> dict[str, jax.Array]:
  """Collapse diagnostics of two views' embeddings.

  `z_std` is the per-dimension std over the batch of L2-normalised
  embeddings, averaged over dimensions; it tends to 1/sqrt(d) for
  well-spread embeddings and to 0 under collapse (SimSiam, Sec. 4).
  `pos_cos` is the mean cosine similarity of positive pairs.
  """
  z1 = z1.astype(jnp.float32)
  z2 = z2.astype(jnp.float32)
  u1 = z1 / jnp.maximum(jnp.linalg.norm(z1, axis=-1, keepdims=True), 1e-12)
  u2 = z2 / jnp.maximum(jnp.linalg.norm(z2, axis=-1, keepdims=True), 1e-12)
  return {
      "z_std": jnp.mean(jnp.std(u1, axis=0)),
      "pos_cos": jnp.mean(jnp.sum(u1 * u2, axis=-1)),
  }
