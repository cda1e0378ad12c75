"""Kind `views`: augmented views of labelled images (the default kind).

Training batches are {group: float32 [b, v, s, s, 3], "label": int32 [b],
"index": int32 [b]}, one entry per group of `config.data.views` (e.g.
"views" with 2 views for SimCLR, "global_crops" and "local_crops" for
multi-crop); evaluation batches are plain images (`jaxssl.data.pipeline`).
"""

from __future__ import annotations

import keyword
from typing import Any

import ml_collections

from jaxssl.data.kinds import base

ConfigDict = ml_collections.ConfigDict

# Augmentation keys shared by every view group (see `jaxssl.data.views`).
_PROB_KEYS = (
  "flip_prob",
  "jitter_prob",
  "gray_prob",
  "blur_prob",
  "solarize_prob",
)


def view_group(**overrides: Any) -> ConfigDict:
  """One group of augmented views (SimCLR defaults, CIFAR-sized).

  Probabilities (`*_prob`) are a float for every view of the group, or a
  tuple with one value per view (BYOL's asymmetric blur/solarize).

  Args:
    **overrides: keys below to change.

  Returns:
    A ConfigDict with keys: num_views, size, crop_scale, crop_ratio,
    flip_prob, jitter_prob, brightness, contrast, saturation, hue, gray_prob,
    blur_prob, blur_sigma, solarize_prob, solarize_threshold.
  """
  group = dict(
    num_views=2,  # views in this group
    size=32,  # output side in pixels
    crop_scale=(0.08, 1.0),  # random resized crop: area fraction range
    crop_ratio=(3 / 4, 4 / 3),  # random resized crop: aspect ratio range
    flip_prob=0.5,
    jitter_prob=0.8,  # colour jitter applied with this probability
    brightness=0.4,
    contrast=0.4,
    saturation=0.4,
    hue=0.1,
    gray_prob=0.2,
    blur_prob=0.0,
    blur_sigma=(0.1, 2.0),
    solarize_prob=0.0,
    solarize_threshold=0.5,
  )
  unknown = set(overrides) - set(group)
  if unknown:
    raise ValueError(
      f"view_group: unknown keys {sorted(unknown)}; "
      f"valid keys are {sorted(group)}"
    )
  group.update(overrides)
  return ConfigDict(group)


def _config() -> ConfigDict:
  return ConfigDict(
    {**base.image_keys(), "views": ConfigDict({"views": view_group()})}
  )


def check_group(prefix: str, group: ConfigDict) -> None:
  """Checks one view group's keys and values (`prefix`: its config path)."""
  ref = view_group()
  for key in group:
    if key not in ref:
      raise ValueError(
        f"unknown config key '{prefix}.{key}'; valid keys in {prefix}: "
        f"{sorted(ref.keys())}"
      )
  if group.num_views < 1:
    base.fail(f"{prefix}.num_views", group.num_views, "must be >= 1")
  if group.size < 1:
    base.fail(f"{prefix}.size", group.size, "must be >= 1")
  lo, hi = group.crop_scale
  if not 0 < lo <= hi <= 1:
    base.fail(
      f"{prefix}.crop_scale", group.crop_scale, "needs 0 < min <= max <= 1"
    )
  lo, hi = group.crop_ratio
  if not 0 < lo <= hi:
    base.fail(f"{prefix}.crop_ratio", group.crop_ratio, "needs 0 < min <= max")
  for key in _PROB_KEYS:
    probs = group[key]
    probs = tuple(probs) if isinstance(probs, (tuple, list)) else (probs,)
    if len(probs) not in (1, group.num_views):
      base.fail(
        f"{prefix}.{key}",
        group[key],
        f"give one probability or {group.num_views} (one per view)",
      )
    if any(not 0 <= p <= 1 for p in probs):
      base.fail(f"{prefix}.{key}", group[key], "probabilities are in [0, 1]")


def _validate(config: ConfigDict) -> None:
  base.validate_image_keys(config)
  if not len(config.data.views):
    base.fail("data.views", {}, "needs at least one view group")
  for name, group in config.data.views.items():
    if not name.isidentifier() or keyword.iskeyword(name):
      # `--config.data.views.global.size=...` is parsed as Python: a keyword
      # or a non-identifier there is a syntax error for the user.
      base.fail(
        f"data.views.{name}",
        name,
        "view-group names must be Python identifiers and not keywords "
        "(else --config.data.views.<name>.* cannot be overridden), e.g. "
        "'global_crops'",
      )
    check_group(f"data.views.{name}", group)
    if group.size > config.data.image_size:
      base.fail(
        f"data.views.{name}.size",
        group.size,
        f"is larger than the images (config.data.image_size="
        f"{config.data.image_size}): views are crops of the images; lower "
        "the view size or raise data.image_size",
      )


def _train_batches(config, **kwargs):
  from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

  return pipeline.train_batches(config, **kwargs)


def _batch_spec(config) -> dict[str, Any]:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  b = config.train.batch_size
  spec = {
    name: jax.ShapeDtypeStruct((b, g.num_views, g.size, g.size, 3), jnp.float32)
    for name, g in config.data.views.items()
  }
  return {**spec, **base.labels_spec(b)}


def _size_hint(config) -> str:
  views = ", ".join(
    f"config.data.views.{name}.size={group.size} (x{group.num_views})"
    for name, group in config.data.views.items()
  )
  return f"the view sizes ({views})"


def _smoke(config, image_size: int | None) -> None:
  if image_size is not None:
    config.data.image_size = min(config.data.image_size, image_size)
    for group in config.data.views.values():
      group.size = min(group.size, image_size)


KIND = base.DataKind(
  name="views",
  config=_config,
  validate=_validate,
  info=base.image_info,
  train_batches=_train_batches,
  eval_batches=base.image_eval_batches,
  batch_spec=_batch_spec,
  eval_spec=base.image_eval_spec,
  size_hint=_size_hint,
  smoke=_smoke,
)
