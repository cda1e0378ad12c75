"""Tests for jaxssl.data.ops and jaxssl.data.views: ranges, shapes, seeds."""

import numpy as np
import pytest
import tensorflow as tf

from jaxssl import configs_lib
from jaxssl.data import ops, views

SEED = tf.constant([3, 4], tf.int64)
OTHER_SEED = tf.constant([3, 5], tf.int64)


def _image(h=32, w=32, seed=(1, 2)):
  return tf.random.stateless_uniform([h, w, 3], seed)


# Each random op with settings where it always changes the image.
OPS = {
  "crop": lambda x, s: ops.random_resized_crop(x, s, size=24),
  "flip": lambda x, s: ops.random_flip(x, s, prob=1.0),
  "jitter": lambda x, s: ops.color_jitter(
    x, s, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1
  ),
  "gray": lambda x, s: ops.random_grayscale(x, s, prob=1.0),
  "blur": lambda x, s: ops.gaussian_blur(x, s, prob=1.0),
  "solarize": lambda x, s: ops.solarize(x, s, prob=1.0),
}
SEED_DEPENDENT = ("crop", "jitter", "blur")  # the others are then fixed


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_range_shape_and_seed(name):
  op = OPS[name]
  image = _image()
  out = op(image, SEED).numpy()
  side = 24 if name == "crop" else 32
  assert out.shape == (side, side, 3) and out.dtype == np.float32
  assert out.min() >= 0.0 and out.max() <= 1.0
  np.testing.assert_array_equal(out, op(image, SEED).numpy())
  assert not np.array_equal(out[:24, :24], image.numpy()[:24, :24])
  if name in SEED_DEPENDENT:
    assert not np.allclose(out, op(image, OTHER_SEED).numpy())


def test_ops_inside_tf_data_match_eager():
  image = _image()
  base = tf.constant([7, 0], tf.int64)
  fold = tf.random.experimental.stateless_fold_in

  def augment(k):
    s = fold(base, k)
    x = ops.random_resized_crop(image, s, size=16)
    x = ops.color_jitter(
      x, fold(s, 1), brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1
    )
    return ops.gaussian_blur(x, fold(s, 2), prob=1.0)

  plain = tf.autograph.experimental.do_not_convert
  got = list(tf.data.Dataset.range(3).map(plain(augment)).as_numpy_iterator())
  for k in range(3):
    np.testing.assert_allclose(
      got[k], augment(tf.constant(k, tf.int64)), atol=1e-6
    )
  assert not np.allclose(got[0], got[1])  # new example index, new view


def test_crop_boxes_follow_scale_and_ratio():
  boxes = ops.draw_crop(
    SEED,
    tf.constant([100, 100]),
    shape=(2000,),
    scale=(0.2, 0.6),
    ratio=(0.5, 2.0),
  ).numpy()
  top, left, h, w = boxes.T
  assert (top >= 0).all() and (left >= 0).all()
  assert (top + h <= 100).all() and (left + w <= 100).all()
  area = h * w / 1e4
  assert area.min() > 0.18 and area.max() < 0.63
  assert 0.35 < area.mean() < 0.45
  assert (w / h).min() > 0.45 and (w / h).max() < 2.2


def test_crop_falls_back_to_centre_crop():
  # A 32x8 strip cannot hold a square of >= 90% of its area: torchvision
  # then centre-crops with the aspect ratio clamped into `ratio`.
  box = ops.draw_crop(
    SEED, tf.constant([32, 8]), scale=(0.9, 1.0), ratio=(1.0, 1.0)
  ).numpy()
  np.testing.assert_array_equal(box, [12, 0, 8, 8])


def test_full_crop_is_identity():
  image = _image()
  out = ops.random_resized_crop(
    image, SEED, size=32, scale=(1, 1), ratio=(1, 1)
  )
  np.testing.assert_allclose(out, image, atol=1e-6)


def test_enlarging_crops_map_box_corners_to_corner_pixels():
  # Sources no larger than the output take the crop_and_resize path.
  image = _image(8, 8)
  boxes = tf.constant([[2, 3, 4, 5], [0, 0, 8, 8]])
  out = ops.apply_crop(image, boxes, size=8).numpy()
  np.testing.assert_allclose(out[0, 0, 0], image[2, 3], atol=1e-6)
  np.testing.assert_allclose(out[0, -1, -1], image[5, 7], atol=1e-6)
  np.testing.assert_allclose(out[1], image, atol=1e-6)


@pytest.mark.parametrize("side", [8, 20])  # enlarged only / shrunk too
def test_crops_do_not_depend_on_the_static_shape(side):
  # A traced function that has seen other image sizes is relaxed to unknown
  # sizes (reduce_retracing); the views must be the ones a fresh trace with
  # the static shape gives (the 2-process CI test caught a worker whose
  # augmentations had changed this way).
  image = _image(side, side)
  boxes = tf.constant([[2, 3, 4, 5], [0, 1, 7, 6]])
  static = ops.apply_crop(image, boxes, size=12).numpy()
  unknown = tf.function(
    lambda x: ops.apply_crop(x, boxes, size=12),
    input_signature=[tf.TensorSpec([None, None, 3], tf.float32)],
  )
  np.testing.assert_array_equal(unknown(image).numpy(), static)
  relaxed = views.compiled(_two_group_config().data)[0]
  for other in (28, 40):
    relaxed(_image(other, other), SEED)
  fresh = views.draw_example(_two_group_config().data, image, SEED)
  again = relaxed(image, SEED)
  for x, y in zip(tf.nest.flatten(fresh), tf.nest.flatten(again)):
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))


def test_coin_rate_and_per_view_probabilities():
  flips = ops.draw_coin(SEED, shape=(4000,), prob=0.3).numpy()
  assert abs(flips.mean() - 0.3) < 0.03
  per_view = ops.draw_coin(SEED, shape=(2000, 2), prob=(0.0, 0.8)).numpy()
  assert per_view[:, 0].sum() == 0
  assert abs(per_view[:, 1].mean() - 0.8) < 0.03


def test_jitter_brightness_semantics():
  image = 0.5 * _image()  # in [0, 0.5]: x1.4 never clips
  out = ops.color_jitter(
    image, SEED, brightness=0.4, contrast=0, saturation=0, hue=0
  ).numpy()
  factor = out / np.maximum(image.numpy(), 1e-6)
  mask = image.numpy() > 0.05
  assert factor[mask].std() < 1e-3
  assert 0.6 <= factor[mask].mean() <= 1.4


def test_jitter_contrast_blends_with_mean_luma():
  image = _image()
  params = ops.draw_jitter(
    SEED, brightness=0, contrast=0.4, saturation=0, hue=0, prob=1.0
  )
  c = float(params["factors"][1])
  mean = tf.reduce_mean(tf.image.rgb_to_grayscale(image))
  want = np.clip(c * image + (1 - c) * mean, 0, 1)
  np.testing.assert_allclose(ops.apply_jitter(image, params), want, atol=1e-6)


def test_jitter_prob_zero_is_identity_and_order_is_permutation():
  image = _image()
  out = ops.color_jitter(
    image, SEED, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.0
  )
  np.testing.assert_array_equal(out, image)
  order = ops.draw_jitter(SEED, shape=(500,))["order"].numpy()
  np.testing.assert_array_equal(
    np.sort(order, axis=1), np.tile(np.arange(4), (500, 1))
  )
  assert len({tuple(o) for o in order}) == 24  # every order occurs


@pytest.mark.parametrize("op", ["jitter", "blur"])
def test_batched_apply_equals_per_image(op):
  images = tf.stack([_image(seed=(i, 9)) for i in range(4)])
  if op == "jitter":
    params = ops.draw_jitter(SEED, shape=(4,), prob=0.75)
    apply = ops.apply_jitter
  else:
    params = ops.draw_blur(SEED, shape=(4,), prob=0.75)
    apply = ops.apply_blur
  batched = apply(images, params).numpy()
  for i in range(4):
    one = apply(images[i], {k: v[i] for k, v in params.items()})
    np.testing.assert_allclose(batched[i], one, atol=1e-6)


def test_grayscale_solarize_blur_values():
  image = _image()
  gray = ops.random_grayscale(image, SEED, prob=1.0).numpy()
  np.testing.assert_allclose(gray[..., 0], gray[..., 2], atol=1e-6)
  sol = ops.solarize(image, SEED, prob=1.0, threshold=0.5).numpy()
  assert sol.max() <= 0.5
  flat = tf.fill([16, 16, 3], 0.3)  # reflected borders keep it flat
  np.testing.assert_allclose(
    ops.gaussian_blur(flat, SEED, prob=1.0), flat, atol=1e-6
  )
  blurred = ops.gaussian_blur(image, SEED, prob=1.0, sigma=(2.0, 2.0))
  assert np.std(blurred) < 0.7 * np.std(image)
  assert ops.blur_radius(224) == 11 and ops.blur_radius(32) == 1


def test_to_float_normalize_and_eval_resize():
  gray = tf.constant(np.full((5, 6, 1), 255, np.uint8))
  np.testing.assert_array_equal(ops.to_float(gray), np.ones((5, 6, 3)))
  rgba = tf.zeros([5, 6, 4], tf.uint8)
  assert ops.to_float(rgba).shape == (5, 6, 3)
  norm = ops.normalize(
    tf.fill([2, 2, 3], 0.5), mean=(0.5, 0.5, 0.0), std=(0.25, 0.25, 0.5)
  )
  np.testing.assert_allclose(norm[0, 0], [0, 0, 1])
  assert ops.resize_center_crop(tf.zeros([40, 60, 3]), size=32).shape == (
    32,
    32,
    3,
  )
  image = _image()
  np.testing.assert_array_equal(ops.resize_center_crop(image, size=32), image)


def _two_group_config():
  config = configs_lib.base_config()
  config.data.views = configs_lib.ConfigDict(
    {
      "global_views": configs_lib.view_group(
        num_views=2, size=24, blur_prob=(1.0, 0.1), solarize_prob=(0.0, 0.2)
      ),
      "local_views": configs_lib.view_group(
        num_views=3, size=12, crop_scale=(0.05, 0.4), blur_prob=0.5
      ),
    }
  )
  return config


def test_views_two_groups_shapes_and_seeds():
  config = _two_group_config()
  fn = views.make_views(config.data)
  image = _image(40, 48)
  out = fn(image, SEED)
  assert out["global_views"].shape == (2, 24, 24, 3)
  assert out["local_views"].shape == (3, 12, 12, 3)
  lo = (0 - 0.5) / 0.25
  hi = (1 - 0.5) / 0.25
  for x in out.values():
    assert lo - 1e-5 <= x.numpy().min() and x.numpy().max() <= hi + 1e-5
  again = fn(image, SEED)
  other = fn(image, OTHER_SEED)
  for key, x in out.items():
    np.testing.assert_array_equal(x, again[key])
    assert not np.allclose(x, other[key])
  assert not np.allclose(out["global_views"][0], out["global_views"][1])


def test_views_two_stages_in_tf_data_match_one_example():
  config = _two_group_config()
  image = _image(40, 48)
  seeds = [tf.random.experimental.stateless_fold_in(SEED, k) for k in range(3)]
  ds = tf.data.Dataset.from_tensor_slices(tf.stack(seeds))
  plain = tf.autograph.experimental.do_not_convert
  ds = ds.map(plain(lambda s: views.draw_example(config.data, image, s)))
  ds = ds.batch(3).map(plain(lambda d: views.apply_batch(config.data, d)))
  batch = next(iter(ds))
  fn = views.make_views(config.data)
  for k, s in enumerate(seeds):
    for key, x in fn(image, s).items():
      np.testing.assert_allclose(batch[key][k], x, atol=1e-5)


def test_views_per_view_flip_probabilities():
  config = configs_lib.base_config()
  config.data.views.views = configs_lib.view_group(
    num_views=2,
    size=32,
    crop_scale=(1, 1),
    crop_ratio=(1, 1),
    flip_prob=(0.0, 1.0),
    jitter_prob=0.0,
    gray_prob=0.0,
  )
  config.data.mean, config.data.std = (0, 0, 0), (1, 1, 1)
  image = _image()
  out = views.make_views(config.data)(image, SEED)["views"].numpy()
  np.testing.assert_allclose(out[0], image, atol=1e-6)
  np.testing.assert_allclose(out[1], image.numpy()[:, ::-1], atol=1e-6)
  with pytest.raises(ValueError, match="per-view"):
    views.per_view((0.1, 0.2, 0.3), 2)


def test_resize_then_centre_crop_is_torchvision_256_224_geometry():
  # A 300x400 image whose pixel (i, j) holds (i, j): after Resize(256) the
  # shorter side is 256 (scale 256/300), CenterCrop(224) keeps the middle.
  rows, cols = np.meshgrid(np.arange(300.0), np.arange(400.0), indexing="ij")
  image = np.stack([rows / 299, cols / 399, np.zeros_like(rows)], -1)
  out = ops.resize_center_crop(
    tf.constant(image, tf.float32), size=224, resize=256
  ).numpy()
  assert out.shape == (224, 224, 3)
  new_h, new_w = 256, round(400 * 256 / 300)  # 341
  top, left = (new_h - 224) // 2, (new_w - 224) // 2  # 16, 58
  # Pixel centres of the crop mapped back to the source (half-pixel rule).
  src_row = (np.arange(224) + top + 0.5) * 300 / new_h - 0.5
  src_col = (np.arange(224) + left + 0.5) * 400 / new_w - 0.5
  # Antialiased bilinear on a linear ramp: within a tenth of a pixel.
  np.testing.assert_allclose(out[:, 112, 0] * 299, src_row, atol=0.15)
  np.testing.assert_allclose(out[112, :, 1] * 399, src_col, atol=0.15)
  # Without `resize` the crop is the whole shorter side: a wider view.
  plain = ops.resize_center_crop(tf.constant(image, tf.float32), size=224)
  assert plain.numpy()[0, 112, 0] * 299 < out[0, 112, 0] * 299 - 10
  with pytest.raises(ValueError, match="resize=100 must be >= size=224"):
    ops.resize_center_crop(tf.constant(image, tf.float32), size=224, resize=100)
