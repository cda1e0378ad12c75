"""Multi-view augmentation recipes built in Python from `config.data.views`.

`config.data.views` maps a group name (e.g. `views`, or `global_views` and
`local_views` for multi-crop) to a `configs_lib.view_group()`: how many views,
their side, and the hyperparameters of each augmentation. Probabilities
(`*_prob`) are one float for all views of the group or a tuple with one value
per view (BYOL's asymmetric blur and solarize).

Each view is made as lightly's `SimCLRTransform` (and `BYOLView` for
solarize), in this order:

  1. random resized crop to `size` (area `crop_scale`, aspect `crop_ratio`)
  2. horizontal flip (`flip_prob`)
  3. colour jitter (`jitter_prob`; `brightness`, `contrast`, `saturation`,
     `hue`, in random order)
  4. grayscale (`gray_prob`)
  5. Gaussian blur (`blur_prob`, sigma in `blur_sigma`, kernel ~10% of size)
  6. solarize (`solarize_prob`, `solarize_threshold`)
  7. normalise with `config.data.mean` / `config.data.std`

The recipe runs in two stages so that tf.data stays fast on small images:
`draw_example` (per example, inside `Dataset.map`) draws every random
parameter from the example's seed and makes the crops; `apply_batch` (after
`Dataset.batch`) applies steps 2-7 to the whole batch at once. Applied
to one example, the two stages give the same views (`make_views`).

What belongs here: composing `jaxssl.data.ops` into views. No data reading,
no batching (see `jaxssl.data.pipeline`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf

from jaxssl.data import ops

PROB_KEYS = (
  "flip_prob",
  "jitter_prob",
  "gray_prob",
  "blur_prob",
  "solarize_prob",
)

Tree = dict[str, Any]


def per_view(value: float | Sequence[float], num_views: int) -> tuple:
  """A probability for each view: a float is repeated, a tuple is checked."""
  if isinstance(value, (tuple, list)):
    if len(value) == 1:
      return tuple(value) * num_views
    if len(value) != num_views:
      raise ValueError(
        f"got {len(value)} per-view probabilities {value} for {num_views} views"
      )
    return tuple(float(p) for p in value)
  return (float(value),) * num_views


def group_seed_offset(name: str) -> int:
  """A stable per-group integer, so adding a group leaves the others alone."""
  return zlib.crc32(name.encode()) & 0x7FFFFFFF


def _groups(data_config: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
  groups = dict(data_config["views"].items())
  if not groups:
    raise ValueError("config.data.views needs at least one view group")
  if "label" in groups:
    raise ValueError(
      "config.data.views: 'label' is reserved for labels; rename the view group"
    )
  return groups


def draw_group(
  image: tf.Tensor, seed: tf.Tensor, group: Mapping[str, Any]
) -> Tree:
  """Stage 1 for one group: crops (step 1) and the parameters of 2-6.

  Args:
    image: float32 [h, w, 3] in [0, 1], any h, w.
    seed: shape-[2] int seed of this example and group.
    group: a `configs_lib.view_group()` ConfigDict (or a dict of its keys).

  Returns:
    {"crops": float32 [v, size, size, 3] in [0, 1], "params": {op: ...}}
    with each op's parameters for the v views; ops whose probability is 0
    for every view are left out (and skipped).
  """
  v = group["num_views"]
  probs = {key: per_view(group[key], v) for key in PROB_KEYS}
  seeds = tf.random.experimental.stateless_split(seed, 6)
  boxes = ops.draw_crop(
    seeds[0],
    tf.shape(image)[:2],
    shape=(v,),
    scale=tuple(group["crop_scale"]),
    ratio=tuple(group["crop_ratio"]),
  )
  crops = ops.apply_crop(image, boxes, size=group["size"])
  params = {}
  if not ops.is_off(probs["flip_prob"]):
    params["flip"] = ops.draw_coin(
      seeds[1], shape=(v,), prob=probs["flip_prob"]
    )
  if not ops.is_off(probs["jitter_prob"]):
    params["jitter"] = ops.draw_jitter(
      seeds[2],
      shape=(v,),
      brightness=group["brightness"],
      contrast=group["contrast"],
      saturation=group["saturation"],
      hue=group["hue"],
      prob=probs["jitter_prob"],
    )
  if not ops.is_off(probs["gray_prob"]):
    params["gray"] = ops.draw_coin(
      seeds[3], shape=(v,), prob=probs["gray_prob"]
    )
  if not ops.is_off(probs["blur_prob"]):
    params["blur"] = ops.draw_blur(
      seeds[4],
      shape=(v,),
      prob=probs["blur_prob"],
      sigma=tuple(group["blur_sigma"]),
    )
  if not ops.is_off(probs["solarize_prob"]):
    params["solarize"] = ops.draw_coin(
      seeds[5], shape=(v,), prob=probs["solarize_prob"]
    )
  return {"crops": crops, "params": params}


def apply_group(drawn: Tree, group: Mapping[str, Any]) -> tf.Tensor:
  """Stage 2 for one group: steps 2-6 on crops [..., v, s, s, 3].

  Works for one example or a batch: leading dims of the crops match those
  of the parameters. Returns float32 [..., v, s, s, 3] in [0, 1].
  """
  x, params = drawn["crops"], drawn["params"]
  if "flip" in params:
    x = ops.apply_flip(x, params["flip"])
  if "jitter" in params:
    x = ops.apply_jitter(x, params["jitter"])
  if "gray" in params:
    x = ops.apply_grayscale(x, params["gray"])
  if "blur" in params:
    x = ops.apply_blur(x, params["blur"])
  if "solarize" in params:
    x = ops.apply_solarize(
      x, params["solarize"], threshold=group["solarize_threshold"]
    )
  return x


def draw_example(
  data_config: Mapping[str, Any], image: tf.Tensor, seed: tf.Tensor
) -> Tree:
  """Stage 1 (per example): `draw_group` for every group of `data.views`.

  Args:
    data_config: `config.data`.
    image: float32 [h, w, 3] in [0, 1].
    seed: the example's shape-[2] int seed; group g uses
      `stateless_fold_in(seed, group_seed_offset(g))`.

  Returns:
    {group: draw_group(...)}; batch it with `tf.data` and pass to
    `apply_batch`.
  """
  out = {}
  for name, group in _groups(data_config).items():
    gseed = tf.random.experimental.stateless_fold_in(
      seed, group_seed_offset(name)
    )
    out[name] = draw_group(image, gseed, group)
  return out


def apply_batch(
  data_config: Mapping[str, Any], drawn: Tree
) -> dict[str, tf.Tensor]:
  """Stage 2 (per batch): {group: float32 [..., v, s, s, 3]}, normalised."""
  mean, std = tuple(data_config["mean"]), tuple(data_config["std"])
  return {
    name: ops.normalize(apply_group(drawn[name], group), mean=mean, std=std)
    for name, group in _groups(data_config).items()
  }


def make_views(
  data_config: Mapping[str, Any],
) -> Callable[[tf.Tensor, tf.Tensor], dict[str, tf.Tensor]]:
  """The recipe for one example (both stages), e.g. for notebooks and tests.

  Args:
    data_config: `config.data` (uses `views`, `mean`, `std`).

  Returns:
    `fn(image, seed) -> {group: float32 [v, size, size, 3]}` normalised with
    `mean` / `std`; `image` is float32 [h, w, 3] in [0, 1] and `seed` a
    shape-[2] int seed. Usable eagerly and inside `tf.data.Dataset.map`.
  """
  _groups(data_config)  # fail early on bad groups

  def views_fn(image: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
    return apply_batch(data_config, draw_example(data_config, image, seed))

  return views_fn


_COMPILED: dict[str, tuple[Callable, Callable]] = {}


def compiled(data_config: Mapping[str, Any]) -> tuple[Callable, Callable]:
  """`draw_example` and `apply_batch` as tf.functions, traced once per recipe.

  Each new tf.data pipeline would otherwise retrace a few thousand ops (~1 s
  on a busy CPU); tests and evaluation build many pipelines.

  Args:
    data_config: `config.data`; its views, mean and std are copied, so later
      changes to the config make a new entry rather than a stale one.

  Returns:
    (draw(image, seed) -> tree, apply(batched tree) -> {group: views}).
  """
  snapshot = {
    "views": {
      name: (
        dict(group.to_dict()) if hasattr(group, "to_dict") else dict(group)
      )
      for name, group in data_config["views"].items()
    },
    "mean": tuple(data_config["mean"]),
    "std": tuple(data_config["std"]),
  }
  key = json.dumps(snapshot, sort_keys=True, default=list)
  if key not in _COMPILED:
    _groups(snapshot)
    _COMPILED[key] = (
      tf.function(
        lambda image, seed: draw_example(snapshot, image, seed),
        autograph=False,
        reduce_retracing=True,
      ),
      tf.function(
        lambda drawn: apply_batch(snapshot, drawn),
        autograph=False,
        reduce_retracing=True,
      ),
    )
  return _COMPILED[key]
