"""Kind `images`: plain labelled images, for methods that make their inputs.

Pretext-task methods (rotation, jigsaw, relative patch position,
colourisation, ...) and reconstruction methods build what the network sees
on the device from the image itself, so the input pipeline only decodes,
optionally crops and flips, resizes to `config.data.image_size` and
normalises. Training batches are {"image": float32 [b, s, s, 3]
(normalised), "label": int32 [b], "index": int32 [b]}; evaluation batches
as for every image kind.

Keys (beside the shared image keys): `crop_scale` / `crop_ratio`, a random
resized crop (the default (1, 1) / (1, 1) keeps the whole image), and
`flip_prob`, a random horizontal flip. Batches come from the same seeded,
exactly resumable pipeline as the `views` kind (one view, no colour
augmentation), so ordering, seeding and host sharding are shared.
"""

from __future__ import annotations

from typing import Any

import ml_collections

from jaxssl.data.kinds import base
from jaxssl.data.kinds import views as views_kind

ConfigDict = ml_collections.ConfigDict


def _config() -> ConfigDict:
  return ConfigDict(
    {
      **base.image_keys(),
      "crop_scale": (1.0, 1.0),  # random resized crop: area fraction range
      "crop_ratio": (1.0, 1.0),  # ... and aspect-ratio range
      "flip_prob": 0.0,  # random horizontal flip
    }
  )


def _view_group(config) -> ConfigDict:
  d = config.data
  return views_kind.view_group(
    num_views=1,
    size=d.image_size,
    crop_scale=tuple(d.crop_scale),
    crop_ratio=tuple(d.crop_ratio),
    flip_prob=d.flip_prob,
    jitter_prob=0.0,
    gray_prob=0.0,
    blur_prob=0.0,
    solarize_prob=0.0,
  )


def _validate(config: ConfigDict) -> None:
  base.validate_image_keys(config)
  lo, hi = config.data.crop_scale
  if not 0 < lo <= hi <= 1:
    base.fail(
      "data.crop_scale", config.data.crop_scale, "needs 0 < min <= max <= 1"
    )
  lo, hi = config.data.crop_ratio
  if not 0 < lo <= hi:
    base.fail("data.crop_ratio", config.data.crop_ratio, "needs 0 < min <= max")
  if not 0 <= config.data.flip_prob <= 1:
    base.fail("data.flip_prob", config.data.flip_prob, "must be in [0, 1]")


def as_views_config(config) -> ConfigDict:
  """A copy of `config` whose data section is the one-view `views` recipe."""
  views_config = ConfigDict(config.to_dict())
  views_config.data.views = ConfigDict({"image": _view_group(config)})
  return views_config


def _one_view(batches):
  for batch in batches:
    batch["image"] = batch["image"][:, 0]
    yield batch


def _train_batches(config, **kwargs):
  from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

  # Built here, not inside the generator, so bad input fails at the call.
  return _one_view(pipeline.train_batches(as_views_config(config), **kwargs))


def _batch_spec(config) -> dict[str, Any]:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  b, s = config.train.batch_size, config.data.image_size
  image = jax.ShapeDtypeStruct((b, s, s, 3), jnp.float32)
  return {"image": image, **base.labels_spec(b)}


def _size_hint(config) -> str:
  return f"config.data.image_size={config.data.image_size}"


def _smoke(config, image_size: int | None) -> None:
  if image_size is not None:
    config.data.image_size = min(config.data.image_size, image_size)


KIND = base.DataKind(
  name="images",
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
