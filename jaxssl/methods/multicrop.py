"""Multi-crop views through a backbone and a head (DINO, SwAV).

`config.data.views` holds one group of global crops, the group with the
largest `size` (e.g. "global_crops": 2 views of 224 px), and optionally
groups of local crops with smaller sizes (e.g. "local_crops": 6-10 views of
96 px). As the official `MultiCropWrapper` (facebookresearch/dino, swav),
the backbone runs once per view group (BatchNorm statistics per resolution)
and the head once on the features of all crops together. A ViT with learned
position embeddings (initialised on the global crops' patch grid) reads
other grids (local crops, evaluation images) through a bicubic
interpolation of the embeddings, as DINO's `interpolate_pos_encoding`.

With `config.method.bn_groups` = G > 1 (`grouped`), BatchNorm statistics are
those of G groups of images, each group with all its crops, as official
SwAV's SyncBatchNorm over process groups of 8 GPUs: the training forward
orders the rows image-major (the crops of image i together), so that the
G contiguous blocks `jaxssl.models.norm` normalises are groups of images,
and returns view-major rows as without groups.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxssl import models
from jaxssl.methods import common


def prototype_config(num_prototypes: int) -> ml_collections.ConfigDict:
  """The `config.method` keys of a prototype head (DINO, SwAV).

  Args:
    num_prototypes: the method's default K.
  """
  m = ml_collections.ConfigDict()
  m.num_prototypes = num_prototypes  # K: DINO's output dim, SwAV's clusters
  # Steps with no gradient for the last layer (DINO) / prototypes (SwAV).
  m.freeze_last_layer_steps = 0
  # BatchNorm statistics over this many groups of the batch's images, each
  # with all its crops (official SwAV: process groups of 8 GPUs); 1: the
  # whole batch.
  m.bn_groups = 1
  return m


def check_prototypes(config) -> None:
  """ValueError naming the key: num_prototypes > 0, freeze steps >= 0,
  bn_groups dividing the batch."""
  common.check_positive(config, "num_prototypes")
  common.check_non_negative(config, "freeze_last_layer_steps")
  common.check_positive(config, "bn_groups")
  groups, batch = config.method.bn_groups, config.train.batch_size
  if batch % groups:
    raise ValueError(
      f"config.method.bn_groups={groups} must divide "
      f"config.train.batch_size={batch} (equal groups of images)"
    )


def smoke_prototypes(m) -> None:
  """Shrinks the prototype head's keys of `config.method` in place."""
  m.num_prototypes = min(m.num_prototypes, 64)


def check_views(config, *, method: str) -> tuple[str, ...]:
  """The view groups, global first, checked (`view_groups`) and, for a
  ViT, tiled by its patches (`check_patch_size`)."""
  global_group, local_groups = view_groups(config, method=method)
  groups = (global_group, *local_groups)
  check_patch_size(config, groups)
  return groups


def view_groups(config, *, method: str) -> tuple[str, tuple[str, ...]]:
  """(global group, local groups) of `config.data.views`.

  The global group is the one with the largest `size`; every other group
  holds local crops (sorted by decreasing size, then name). A single group
  is global with no local crops.

  Raises:
    ValueError: if several groups share the largest size, or there are
      fewer than 2 views in all.
  """
  groups = dict(config.data.views.items())
  sizes = {name: g.size for name, g in groups.items()}
  largest = max(sizes.values())
  tied = sorted(name for name, size in sizes.items() if size == largest)
  if len(tied) != 1:
    raise ValueError(
      f"method {method!r} takes the view group with the largest size as "
      f"its global crops, but config.data.views groups {tied} all have "
      f"size {largest}; give the local crops a smaller "
      f"config.data.views.<group>.size"
    )
  global_group = tied[0]
  local = tuple(
    sorted(
      (name for name in groups if name != global_group),
      key=lambda name: (-sizes[name], name),
    )
  )
  if sum(g.num_views for g in groups.values()) < 2:
    raise ValueError(
      f"method {method!r} needs at least 2 views in all, got "
      f"config.data.views.{global_group}.num_views="
      f"{groups[global_group].num_views} and no other group"
    )
  return global_group, local


def check_patch_size(config, groups) -> None:
  """ViTs: `config.model.patch_size` must divide every crop and eval size."""
  if common.backbone(config).kind != "vit":
    return
  p = config.model.patch_size
  sides = [
    (f"data.views.{name}.size", config.data.views[name].size) for name in groups
  ]
  sides.append(("data.image_size", config.data.image_size))
  for key, side in sides:
    if p < 1 or side % p:
      raise ValueError(
        f"config.model.patch_size={p} must divide config.{key}={side}: a "
        f"ViT tiles every crop (and evaluation image) with patches"
      )


def fit_pos_embed(params, grid: tuple[int, int]):
  """ViT `params` whose learned `pos_embed` fits a `grid` of patches.

  The embeddings learned on the (square) global-crop grid are resized
  bicubically (DINO's `interpolate_pos_encoding`); the resize is
  differentiable, so local crops train the same embedding table. Params
  without `pos_embed` (ResNets, fixed sin-cos ViTs) and grids of the right
  size are returned unchanged.
  """
  if "pos_embed" not in params:
    return params
  pos = params["pos_embed"]
  _, length, width = pos.shape
  if length == grid[0] * grid[1]:
    return params
  side = math.isqrt(length)
  if side * side != length:
    raise ValueError(
      f"cannot resize a non-square pos_embed of {length} "
      f"patches to the grid {grid}"
    )
  resized = jax.image.resize(
    pos.reshape(side, side, width),
    (grid[0], grid[1], width),
    method="bicubic",
    antialias=False,
  )
  return {**params, "pos_embed": resized.reshape(1, -1, width)}


def apply_backbone(
  backbone, params, batch_stats, images_per_group, *, train: bool
):
  """Runs `backbone` on each group's images; concatenates the features.

  Args:
    backbone: a `models.backbone` module.
    params: its params.
    batch_stats: its BatchNorm statistics ({} for a ViT).
    images_per_group: list of [m_g, h_g, w_g, 3] arrays (one size each).
    train: BatchNorm on batch statistics; the running statistics are then
      updated once per group, chained in order (as consecutive PyTorch
      forwards would).

  Returns:
    (feats [sum m_g, d], batch_stats after the updates).
  """
  patch = getattr(backbone, "patch_size", None)
  feats = []
  for images in images_per_group:
    p = params
    if isinstance(backbone, models.ViT):
      p = fit_pos_embed(
        params, (images.shape[1] // patch, images.shape[2] // patch)
      )
    variables = {"params": p, "batch_stats": batch_stats}
    if train:
      out, new = backbone.apply(
        variables, images, train=True, mutable=["batch_stats"]
      )
      batch_stats = new.get("batch_stats", batch_stats)
    else:
      out = backbone.apply(variables, images, train=False)
    feats.append(out["feats"])
  return jnp.concatenate(feats), batch_stats


def init_backbone_and_head(backbone, head, rng, images):
  """(params, batch_stats) dicts {"backbone", "head"} from sample images."""
  k_backbone, k_head = jax.random.split(rng)
  b_vars = backbone.init(k_backbone, images, train=False)
  feats = backbone.apply(b_vars, images, train=False)["feats"]
  h_vars = head.init(k_head, feats, train=False)
  params = {"backbone": b_vars["params"], "head": h_vars["params"]}
  stats = {
    "backbone": b_vars.get("batch_stats", {}),
    "head": h_vars.get("batch_stats", {}),
  }
  return params, stats


def grouped(config, module):
  """`module` with BatchNorm over `config.method.bn_groups` groups of images.

  For the backbone and the head of a multi-crop method (see the module
  docstring); `apply_backbone_and_head(..., by_image=True)` then orders the
  rows by image.
  """
  groups = config.method.bn_groups
  if groups == 1 or not hasattr(module, "bn_groups"):
    return module  # e.g. a ViT: no BatchNorm
  return module.clone(bn_groups=groups)


def _image_major(x: jax.Array, num_views: int) -> jax.Array:
  """View-major rows [v * n, ...] -> image-major [n * v, ...]."""
  n = x.shape[0] // num_views
  x = x.reshape(num_views, n, *x.shape[1:])
  return jnp.swapaxes(x, 0, 1).reshape(n * num_views, *x.shape[2:])


def _view_major(x: jax.Array, num_views: int) -> jax.Array:
  """Image-major rows [n * v, ...] -> view-major [v * n, ...]."""
  n = x.shape[0] // num_views
  x = x.reshape(n, num_views, *x.shape[1:])
  return jnp.swapaxes(x, 0, 1).reshape(n * num_views, *x.shape[2:])


def apply_backbone_and_head(
  backbone, head, params, stats, views_per_group, *, by_image: bool = False
):
  """Training-mode forward of multi-crop views through backbone and head.

  Args:
    views_per_group: list of [n, v_g, h_g, w_g, 3] view groups.
    by_image: rows go through the networks image-major (all crops of an
      image together), for grouped BatchNorm (`grouped`); the outputs are
      view-major either way.

  Returns:
    (head outputs over all views, view-major: rows g*n..(g+1)*n-1 are view
    g counting the groups in order; new batch_stats).
  """
  n = views_per_group[0].shape[0]
  sizes = [v.shape[1] for v in views_per_group]
  if by_image:
    images = [v.reshape(n * v.shape[1], *v.shape[2:]) for v in views_per_group]
  else:
    images = [common.merge_views(v) for v in views_per_group]
  feats, b_stats = apply_backbone(
    backbone, params["backbone"], stats["backbone"], images, train=True
  )
  if by_image:  # each group's rows view-major, then all crops image-major
    parts = jnp.split(feats, np.cumsum([n * s for s in sizes])[:-1])
    feats = jnp.concatenate([_view_major(p, s) for p, s in zip(parts, sizes)])
    feats = _image_major(feats, sum(sizes))
  out, new = head.apply(
    {"params": params["head"], "batch_stats": stats["head"]},
    feats,
    train=True,
    mutable=["batch_stats"],
  )
  if by_image:
    out = jax.tree.map(lambda x: _view_major(x, sum(sizes)), out)
  return out, {
    "backbone": b_stats,
    "head": new.get("batch_stats", stats["head"]),
  }
