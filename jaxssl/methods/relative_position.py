"""Context prediction: where a patch sits relative to the centre patch.

One image per example (data kind `images`). Each step takes, from every
image of the batch, the centre patch of a 3x3 grid of `method.patch_size`
patches spaced by `method.gap` pixels and one of its 8 neighbours, each
patch moved by up to `method.jitter` pixels (`jaxssl.pretext.
relative_position`; the grid itself lands at a random place where the
image leaves room). The gap and the jitter keep the task from being solved
by continuing lines and textures across the border. With
`method.normalize_tiles` each patch is normalised on its own. Doersch et
al.'s pair network: one backbone shared by both patches, their features
concatenated (centre first), a classifier (`method.head_hidden_dim`) over
the 8 positions, a cross-entropy.

Not done here: the paper's guard against chromatic aberration (dropping two
of the three colour channels, or projecting out the green-magenta axis): it
matters for photos taken through lenses, not for the synthetic embedded
digits.

Features for evaluation: the backbone alone on the whole image, in
inference mode. Metrics: `loss`, `accuracy` (position top-1), `z_std` of
the patch features.

References:
  Doersch, Gupta & Efros, Unsupervised Visual Representation Learning by
  Context Prediction, ICCV 2015, arXiv:1505.05192.
"""

from __future__ import annotations

import ml_collections

from jaxssl import pretext
from jaxssl.methods import base
from jaxssl.methods import pretext_common as pc


def default_config() -> ml_collections.ConfigDict:
  """Context prediction's `config.method` keys, defaults as in the paper."""
  return ml_collections.ConfigDict(
    {
      "patch_size": 96,  # paper: 96-pixel patches ...
      "gap": 48,  # ... half a patch apart ...
      "jitter": 7,  # ... each moved by up to 7 pixels
      "normalize_tiles": True,  # paper: mean subtraction per patch
      # Classifier on the concatenated patch features (paper: fc7 4096).
      "head_hidden_dim": 4096,
    }
  )


def check_config(config) -> None:
  """Raises ValueError naming the first bad `config.method` key."""
  m = config.method
  pc.check_head(config)
  if m.patch_size < 1:
    pc.fail("patch_size", m.patch_size, "must be >= 1")
  for key in ("gap", "jitter"):
    if m[key] < 0:
      pc.fail(key, m[key], "must be >= 0")
  need = 3 * m.patch_size + 2 * m.gap + 2 * m.jitter
  if need > config.data.image_size:
    pc.fail(
      "patch_size",
      m.patch_size,
      f"3 patches + 2 gaps ({m.gap}) + 2 jitters ({m.jitter}) need {need} "
      f"pixels, more than data.image_size={config.data.image_size}",
    )


def smoke(m) -> None:
  # Fits 32-pixel images: 3 * 8 + 2 * 2 + 2 * 1 = 30.
  m.patch_size = min(m.patch_size, 8)
  m.gap = min(m.gap, 2)
  m.jitter = min(m.jitter, 1)
  m.head_hidden_dim = min(m.head_hidden_dim, 32)


def build(config) -> base.Method:
  """Context prediction from `config.model` and `config.method`."""
  check_config(config)
  m = config.method

  def make_tiles(rng, images):
    return pretext.relative_position(
      rng, images, patch_size=m.patch_size, gap=m.gap, jitter=m.jitter
    )

  return pc.tile_method("relative_position", config, make_tiles, 8)


METHOD = base.MethodDef(
  name="relative_position",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
  data_kinds=("images",),
)
