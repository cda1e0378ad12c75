"""Small stateless image ops for tf.data: one augmentation per function.

Every random op is `op(image, seed, *, hparams) -> image`: `image` is a
float32 [h, w, 3] tensor in [0, 1] (use `to_float` on uint8 images first),
`seed` a shape-[2] int32/int64 tensor, and the result depends only on
(image, seed, hparams), so a per-example seed makes the pipeline exactly
reproducible. The ops run eagerly and inside `tf.data.Dataset.map`.

Each op is `apply_x(images, draw_x(seed, ...))`: `draw_x` draws the random
parameters (for `shape` images at once), `apply_x` applies them to images
with matching leading dims, [..., h, w, 3] with parameters [...]. The view
recipes (`jaxssl.data.views`) draw per example and apply per batch: tf.data
pays ~10 us per op per call, which dominates on small images if every op
runs once per image.

Semantics follow torchvision / lightly (what the SSL recipes were written
against): Inception-style random resized crop with a centre-crop fallback,
ColorJitter with factors from [max(0, 1 - x), 1 + x] in random order, luma
grayscale, Gaussian blur with a kernel ~10% of the side (as SimCLR),
solarize above a threshold.

What belongs here: single stateless ops. Recipes that chain them are in
`jaxssl.data.views`; reading data is in `jaxssl.data.sources`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

Prob = float | Sequence[float]  # one value, or one per image of `shape`


def _uniform(seed, shape=(), minval=0.0, maxval=1.0):
  return tf.random.stateless_uniform(
    shape, seed, minval=minval, maxval=maxval, dtype=tf.float32
  )


def _coin(seed, shape, prob: Prob) -> tf.Tensor:
  """Booleans [*shape], True with probability `prob` (broadcast)."""
  return _uniform(seed, shape) < tf.constant(prob, tf.float32)


def _bc(param: tf.Tensor) -> tf.Tensor:
  """Per-image parameter [...] -> [..., 1, 1, 1] to broadcast on images."""
  return param[..., None, None, None]


def is_off(prob: Prob) -> bool:
  """True when an op never fires (all probabilities 0): skip it statically."""
  probs = prob if isinstance(prob, (tuple, list)) else (prob,)
  return all(p <= 0 for p in probs)


def to_float(image: tf.Tensor) -> tf.Tensor:
  """uint8 [h, w, c] (c = 1, 3 or 4) -> float32 [h, w, 3] in [0, 1].

  Grayscale is repeated to 3 channels; an alpha channel is dropped.
  """
  image = tf.image.convert_image_dtype(image, tf.float32)
  channels = image.shape[-1]
  if channels == 1:
    return tf.image.grayscale_to_rgb(image)
  if channels == 4:
    return image[..., :3]
  if channels == 3:
    return image
  raise ValueError(f"to_float: expected 1, 3 or 4 channels, got {channels}")


# Random resized crop ---------------------------------------------------------


def draw_crop(
  seed: tf.Tensor,
  image_hw: tf.Tensor,
  *,
  shape=(),
  scale: Sequence[float] = (0.08, 1.0),
  ratio: Sequence[float] = (3 / 4, 4 / 3),
  attempts: int = 10,
) -> tf.Tensor:
  """Crop boxes as torchvision's `RandomResizedCrop.get_params`.

  Up to `attempts` draws of an area fraction in `scale` and a log-uniform
  aspect ratio (width / height) in `ratio`; the first that fits is placed
  uniformly. If none fits: a centre crop with the ratio clamped to `ratio`.

  Args:
    seed: shape-[2] int seed.
    image_hw: int [2], the source height and width.
    shape: leading dims, e.g. (num_views,).
    scale, ratio, attempts: as above.

  Returns:
    int32 [*shape, 4] boxes (top, left, height, width).
  """
  shape = tuple(shape)
  height = tf.cast(image_hw[0], tf.float32)
  width = tf.cast(image_hw[1], tf.float32)
  seeds = tf.random.experimental.stateless_split(seed, 3)
  area = height * width * _uniform(seeds[0], shape + (attempts,), *scale)
  aspect = tf.exp(
    _uniform(
      seeds[1], shape + (attempts,), math.log(ratio[0]), math.log(ratio[1])
    )
  )
  crop_w = tf.round(tf.sqrt(area * aspect))
  crop_h = tf.round(tf.sqrt(area / aspect))
  fits = (crop_w > 0) & (crop_h > 0) & (crop_w <= width) & (crop_h <= height)
  first = tf.argmax(tf.cast(fits, tf.int32), axis=-1)
  found = tf.reduce_any(fits, axis=-1)
  in_ratio = width / height
  lo, hi = min(ratio), max(ratio)
  fallback_w = tf.where(in_ratio > hi, tf.round(height * hi), width)
  fallback_h = tf.where(in_ratio < lo, tf.round(width / lo), height)
  dims = len(shape)
  crop_h = tf.where(
    found, tf.gather(crop_h, first, batch_dims=dims), fallback_h
  )
  crop_w = tf.where(
    found, tf.gather(crop_w, first, batch_dims=dims), fallback_w
  )
  span_h, span_w = height - crop_h, width - crop_w
  where = _uniform(seeds[2], shape + (2,))
  # torchvision: randint(0, span + 1) when found, else the centre.
  top = tf.where(
    found,
    tf.minimum(tf.floor(where[..., 0] * (span_h + 1)), span_h),
    tf.floor(span_h / 2),
  )
  left = tf.where(
    found,
    tf.minimum(tf.floor(where[..., 1] * (span_w + 1)), span_w),
    tf.floor(span_w / 2),
  )
  return tf.cast(tf.stack([top, left, crop_h, crop_w], axis=-1), tf.int32)


def apply_crop(image: tf.Tensor, boxes: tf.Tensor, *, size: int) -> tf.Tensor:
  """Crops `boxes` out of one image and resizes each to size x size.

  Bilinear. When the image is at most `size` on each side (CIFAR-sized
  sources), crops are only ever enlarged and all boxes go through one
  `crop_and_resize` (3x cheaper per example on this CPU); otherwise each box
  is sliced and resized with antialiasing for the shrinking case (as
  torchvision). The choice follows the image's actual size: from its static
  shape when known, else at run time (`tf.cond`), so a view never depends
  on how much of the shape a trace knew (a traced function relaxed to
  unknown sizes by other inputs gives the same views as a fresh one).

  Args:
    image: float32 [h, w, c] in [0, 1].
    boxes: int32 [4] or [v, 4] (top, left, height, width), v static.
    size: output side.

  Returns:
    float32 [size, size, c] or [v, size, size, c] in [0, 1].
  """
  many = boxes if boxes.shape.rank == 2 else boxes[None]
  h, w = image.shape[0], image.shape[1]
  if h is not None and w is not None:
    small = max(h, w) <= size
    out = _enlarge_all(image, many, size) if small else _each(image, many, size)
  else:
    shape = tf.shape(image)
    out = tf.cond(
      tf.maximum(shape[0], shape[1]) <= size,
      lambda: _enlarge_all(image, many, size),
      lambda: _each(image, many, size),
    )
  return out if boxes.shape.rank == 2 else out[0]


def _enlarge_all(image: tf.Tensor, many: tf.Tensor, size: int) -> tf.Tensor:
  """All boxes [v, 4] of a small image in one `crop_and_resize`."""
  top, left, height, width = tf.unstack(tf.cast(many, tf.float32), axis=-1)
  hw = tf.cast(tf.shape(image)[:2], tf.float32)
  # crop_and_resize maps box corners onto the first and last pixel centres.
  norm = tf.maximum(hw - 1.0, 1.0)
  corners = tf.stack(
    [
      top / norm[0],
      left / norm[1],
      (top + height - 1.0) / norm[0],
      (left + width - 1.0) / norm[1],
    ],
    axis=-1,
  )
  out = tf.image.crop_and_resize(
    image[None], corners, tf.zeros_like(many[:, 0]), [size, size]
  )
  return tf.clip_by_value(out, 0.0, 1.0)


def _each(image: tf.Tensor, many: tf.Tensor, size: int) -> tf.Tensor:
  """Each box [v, 4] sliced, then resized with antialiasing."""
  c = image.shape[-1]
  outs = []
  for i in range(many.shape[0]):
    box = many[i]
    crop = tf.slice(
      image, tf.stack([box[0], box[1], 0]), tf.stack([box[2], box[3], -1])
    )
    out = tf.image.resize(crop, [size, size], method="bilinear", antialias=True)
    out.set_shape([size, size, c])
    outs.append(tf.clip_by_value(out, 0.0, 1.0))
  return tf.stack(outs)


def random_resized_crop(
  image: tf.Tensor,
  seed: tf.Tensor,
  *,
  size: int,
  scale: Sequence[float] = (0.08, 1.0),
  ratio: Sequence[float] = (3 / 4, 4 / 3),
) -> tf.Tensor:
  """float32 [h, w, c] in [0, 1] -> a random crop resized to [size, size, c].

  `scale` bounds the kept fraction of the area, `ratio` the aspect ratio
  width / height (see `draw_crop`).
  """
  boxes = draw_crop(seed, tf.shape(image)[:2], scale=scale, ratio=ratio)
  return apply_crop(image, boxes, size=size)


# Flip, grayscale, solarize ---------------------------------------------------


def draw_coin(seed: tf.Tensor, *, shape=(), prob: Prob = 0.5) -> tf.Tensor:
  """bool [*shape], True with probability `prob` (one, or one per image).

  The parameter of flip, grayscale and solarize: which images to change.
  """
  return _coin(seed, shape, prob)


def apply_flip(images: tf.Tensor, flip: tf.Tensor) -> tf.Tensor:
  """Mirrors images [..., h, w, c] (any range) left-right where `flip`."""
  return tf.where(_bc(flip), tf.reverse(images, axis=[-2]), images)


def random_flip(
  image: tf.Tensor, seed: tf.Tensor, *, prob: float = 0.5
) -> tf.Tensor:
  """Mirrors left-right with probability `prob`; any range or dtype."""
  return apply_flip(image, draw_coin(seed, prob=prob))


_LUMA = (0.2989, 0.587, 0.114)  # ITU-R 601, as torchvision and tf.image


def _luma(images: tf.Tensor) -> tf.Tensor:
  """[..., h, w, 1] luma of [..., h, w, 3] images."""
  # Channel slices: 3x faster here than a reduce_sum over a size-3 axis.
  return (
    images[..., 0:1] * _LUMA[0]
    + images[..., 1:2] * _LUMA[1]
    + images[..., 2:3] * _LUMA[2]
  )


def apply_grayscale(images: tf.Tensor, gray: tf.Tensor) -> tf.Tensor:
  """Luma (3 channels) where `gray` [...]; images [..., h, w, 3] in [0, 1]."""
  luma = tf.broadcast_to(_luma(images), tf.shape(images))
  return tf.where(_bc(gray), luma, images)


def random_grayscale(
  image: tf.Tensor, seed: tf.Tensor, *, prob: float = 0.2
) -> tf.Tensor:
  """Luma repeated to 3 channels with probability `prob`; [0, 1] floats."""
  return apply_grayscale(image, draw_coin(seed, prob=prob))


def apply_solarize(
  images: tf.Tensor, solarize: tf.Tensor, *, threshold: float = 0.5
) -> tf.Tensor:
  """x -> 1 - x for pixels >= threshold where `solarize`; [0, 1] floats."""
  inverted = tf.where(images >= threshold, 1.0 - images, images)
  return tf.where(_bc(solarize), inverted, images)


def solarize(
  image: tf.Tensor,
  seed: tf.Tensor,
  *,
  prob: float = 0.2,
  threshold: float = 0.5,
) -> tf.Tensor:
  """Solarizes a float32 [h, w, 3] image in [0, 1] with probability `prob`."""
  return apply_solarize(image, draw_coin(seed, prob=prob), threshold=threshold)


# Colour jitter ---------------------------------------------------------------


def draw_jitter(
  seed: tf.Tensor,
  *,
  shape=(),
  brightness: float = 0.4,
  contrast: float = 0.4,
  saturation: float = 0.4,
  hue: float = 0.1,
  prob: Prob = 0.8,
) -> dict[str, tf.Tensor]:
  """ColorJitter parameters for `shape` images.

  Returns:
    {"apply": bool [*shape], "factors": float32 [*shape, 4] (brightness,
    contrast, saturation factors in [max(0, 1 - x), 1 + x], hue shift in
    [-hue, hue] turns), "order": int32 [*shape, 4] a permutation of 0..3}.
  """
  shape = tuple(shape)
  seeds = tf.random.experimental.stateless_split(seed, 3)
  lo = tf.constant(
    [
      max(0.0, 1.0 - brightness),
      max(0.0, 1.0 - contrast),
      max(0.0, 1.0 - saturation),
      -hue,
    ]
  )
  hi = tf.constant([1.0 + brightness, 1.0 + contrast, 1.0 + saturation, hue])
  factors = lo + (hi - lo) * _uniform(seeds[1], shape + (4,))
  order = tf.argsort(_uniform(seeds[2], shape + (4,)), axis=-1)
  return {
    "apply": _coin(seeds[0], shape, prob),
    "factors": factors,
    "order": tf.cast(order, tf.int32),
  }


def _shift_hue(images: tf.Tensor, delta: tf.Tensor) -> tf.Tensor:
  """Rotates hue by `delta` [n] turns in images [n, h, w, 3] (HSV space)."""
  hsv = tf.image.rgb_to_hsv(images)
  h = tf.math.floormod(hsv[..., 0] + delta[:, None, None], 1.0)
  return tf.image.hsv_to_rgb(tf.stack([h, hsv[..., 1], hsv[..., 2]], -1))


def apply_jitter(images: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
  """Applies `draw_jitter` parameters to float32 [..., h, w, 3] in [0, 1].

  torchvision semantics: brightness `x * f`; contrast blends with the mean
  luma of the image; saturation blends with the per-pixel luma; hue rotates
  in HSV. Each result is clipped to [0, 1].
  """
  shape = tf.shape(images)
  x = tf.reshape(images, tf.concat([[-1], shape[-3:]], 0))
  fire = tf.reshape(params["apply"], [-1])
  factors = tf.reshape(params["factors"], [-1, 4])
  order = tf.reshape(params["order"], [-1, 4])
  fire = tf.cast(fire, tf.float32)[:, None]
  for slot in range(4):
    chosen = tf.one_hot(order[:, slot], 4) * fire  # [n, 4]: this slot's op
    # At most one of brightness / contrast / saturation acts on a row in a
    # slot, so one affine map and one clip give each row exactly its op:
    #   y = a * x + b * mean(luma(x)) + c * luma(x),
    # with (a, b, c) = (f, 0, 0), (f, 1 - f, 0), (f, 0, 1 - f) or (1, 0, 0).
    cheap = chosen[:, :3]
    a = tf.reduce_sum(cheap * factors[:, :3], axis=1) + (
      1.0 - tf.reduce_sum(cheap, axis=1)
    )  # exactly f, or exactly 1
    b = cheap[:, 1] * (1.0 - factors[:, 1])
    c = cheap[:, 2] * (1.0 - factors[:, 2])
    luma = _luma(x)
    mean = tf.reduce_mean(luma, axis=[-3, -2, -1], keepdims=True)
    x = tf.clip_by_value(_bc(a) * x + _bc(b) * mean + _bc(c) * luma, 0.0, 1.0)
    # Hue is the costly one: only on the rows that take it in this slot.
    rows = tf.where(chosen[:, 3] > 0)
    shifted = _shift_hue(
      tf.gather_nd(x, rows), tf.gather_nd(factors[:, 3], rows)
    )
    x = tf.tensor_scatter_nd_update(
      x, rows, tf.clip_by_value(shifted, 0.0, 1.0)
    )
  return tf.reshape(x, shape)


def color_jitter(
  image: tf.Tensor,
  seed: tf.Tensor,
  *,
  brightness: float,
  contrast: float,
  saturation: float,
  hue: float,
  prob: float = 1.0,
) -> tf.Tensor:
  """Colour jitter of a float32 [h, w, 3] image in [0, 1], random order.

  torchvision `RandomApply([ColorJitter(b, c, s, h)], p=prob)`: factors
  from [max(0, 1 - x), 1 + x] for brightness, contrast and saturation, a
  hue shift in [-hue, hue] turns (hue <= 0.5).
  """
  params = draw_jitter(
    seed,
    brightness=brightness,
    contrast=contrast,
    saturation=saturation,
    hue=hue,
    prob=prob,
  )
  return apply_jitter(image, params)


# Gaussian blur ---------------------------------------------------------------


def blur_radius(side: int) -> int:
  """SimCLR's kernel of side // 10 pixels, made odd: radius >= 1."""
  return max(1, (side // 10) // 2)


def draw_blur(
  seed: tf.Tensor,
  *,
  shape=(),
  prob: Prob = 0.5,
  sigma: Sequence[float] = (0.1, 2.0),
) -> dict[str, tf.Tensor]:
  """{"apply": bool [*shape], "sigma": float32 [*shape] in `sigma`}."""
  seeds = tf.random.experimental.stateless_split(seed, 2)
  return {
    "apply": _coin(seeds[0], shape, prob),
    "sigma": _uniform(seeds[1], shape, sigma[0], sigma[1]),
  }


def apply_blur(
  images: tf.Tensor, params: dict[str, tf.Tensor], *, radius: int | None = None
) -> tf.Tensor:
  """Separable Gaussian blur of float32 [..., h, w, c] (static h, w, c).

  Each image gets its own sigma; borders are reflected (as torchvision).
  `radius` defaults to `blur_radius(min(h, w))` (kernel ~10% of the side).
  """
  h, w, c = images.shape[-3:]
  if radius is None:
    radius = blur_radius(min(h, w))
  radius = min(radius, h - 1, w - 1)  # REFLECT padding needs radius < side
  if radius < 1:
    return images
  shape = tf.shape(images)
  x = tf.reshape(images, [-1, h, w, c])
  sigma = tf.reshape(params["sigma"], [-1, 1])
  taps = tf.range(-radius, radius + 1, dtype=tf.float32)[None, :]
  kernel = tf.exp(-tf.square(taps) / (2.0 * tf.square(sigma)))  # [n, k]
  kernel /= tf.reduce_sum(kernel, axis=1, keepdims=True)
  # One depthwise conv for all images: images go to the channel axis.
  n = tf.shape(x)[0]
  x = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, -1])  # [1,h,w,nc]
  kernel = tf.reshape(
    tf.repeat(tf.transpose(kernel), c, axis=1), [-1, n * c]
  )  # [k, n*c], channel n_i*c + c_j
  pad = [[0, 0], [radius, radius], [radius, radius], [0, 0]]
  x = tf.pad(x, pad, mode="REFLECT")
  x = tf.nn.depthwise_conv2d(x, kernel[:, None, :, None], [1, 1, 1, 1], "VALID")
  x = tf.nn.depthwise_conv2d(x, kernel[None, :, :, None], [1, 1, 1, 1], "VALID")
  x = tf.transpose(tf.reshape(x, [h, w, n, c]), [2, 0, 1, 3])
  blurred = tf.reshape(tf.clip_by_value(x, 0.0, 1.0), shape)
  return tf.where(_bc(params["apply"]), blurred, images)


def gaussian_blur(
  image: tf.Tensor,
  seed: tf.Tensor,
  *,
  prob: float = 0.5,
  sigma: Sequence[float] = (0.1, 2.0),
  radius: int | None = None,
) -> tf.Tensor:
  """Blurs a float32 [h, w, 3] image in [0, 1] (static size) with `prob`.

  sigma ~ U(sigma) pixels; the kernel half-width `radius` defaults to ~5%
  of the side (SimCLR's kernel of 10%).
  """
  return apply_blur(
    image, draw_blur(seed, prob=prob, sigma=sigma), radius=radius
  )


# Deterministic ---------------------------------------------------------------


def normalize(
  image: tf.Tensor, *, mean: Sequence[float], std: Sequence[float]
) -> tf.Tensor:
  """(image - mean) / std per channel of float32 [..., 3] in [0, 1]."""
  return (image - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)


def pad_to_size(image: tf.Tensor, *, size: int) -> tf.Tensor:
  """Pads float32 [h, w, c] in [0, 1] with zeros (black), centred, to at
  least size x size; sides already >= `size` are unchanged."""
  shape = tf.shape(image)
  h, w = shape[0], shape[1]
  new_h, new_w = tf.maximum(h, size), tf.maximum(w, size)
  out = tf.image.pad_to_bounding_box(
    image, (new_h - h) // 2, (new_w - w) // 2, new_h, new_w
  )
  static = [None if d is None else max(d, size) for d in image.shape[:2]] + [
    image.shape[-1]
  ]
  out.set_shape(static)
  return out


def resize_center_crop(
  image: tf.Tensor, *, size: int, resize: int | None = None
) -> tf.Tensor:
  """Evaluation view: resize the shorter side to `resize`, centre crop `size`.

  float32 [h, w, c] in [0, 1] -> [size, size, c]. `resize` (>= size;
  default `size`) is the shorter side before the crop: 256 with size 224 is
  the ImageNet evaluation of ResNet and SSL papers (torchvision
  `Resize(256)` + `CenterCrop(224)`). An image whose shorter side already
  is `resize` is not resampled.
  """
  resize = size if resize is None else resize
  if resize < size:
    raise ValueError(f"resize={resize} must be >= size={size}")
  shape = tf.shape(image)
  h = tf.cast(shape[0], tf.float32)
  w = tf.cast(shape[1], tf.float32)
  short = tf.minimum(h, w)
  new_h = tf.maximum(tf.cast(tf.round(h * resize / short), tf.int32), resize)
  new_w = tf.maximum(tf.cast(tf.round(w * resize / short), tf.int32), resize)

  def resize():
    out = tf.image.resize(
      image, tf.stack([new_h, new_w]), method="bilinear", antialias=True
    )
    return tf.clip_by_value(out, 0.0, 1.0)

  same = tf.logical_and(tf.equal(shape[0], new_h), tf.equal(shape[1], new_w))
  image = tf.cond(same, lambda: image, resize)
  top = (new_h - size) // 2
  left = (new_w - size) // 2
  out = tf.slice(image, tf.stack([top, left, 0]), tf.stack([size, size, -1]))
  out.set_shape([size, size, image.shape[-1]])
  return out
