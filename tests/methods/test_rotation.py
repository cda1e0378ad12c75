"""RotNet: the four rotations, the loss as a plain cross-entropy, features."""

import functools

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import optax
import pretext_testing as pt

from jaxssl import methods, pretext


@functools.cache
def _setup(all_rotations=True):
  config = pt.smoke("rotation", all_rotations=all_rotations)
  batch = pt.image_batch()
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  return config, method, params, extra, batch


def _logits(config, params, extra, images):
  encoder = methods.rotation.pc.classifier(config, 4)
  return mt.train_apply(encoder, params, extra["batch_stats"], images)["z"]


def test_all_four_rotations_against_numpy():
  config, method, params, extra, batch = _setup()
  value, (new_extra, metrics) = jax.jit(method.loss)(
    params, extra, batch, jax.random.key(3), 0
  )
  images = np.asarray(batch["image"])
  rotated = np.concatenate([np.rot90(images, k, axes=(1, 2)) for k in range(4)])
  labels = np.repeat(np.arange(4), len(images))
  logits = _logits(config, params, extra, jnp.asarray(rotated))
  ref = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
  np.testing.assert_allclose(value, ref, rtol=1e-5)
  acc = np.mean(np.argmax(logits, -1) == labels)
  np.testing.assert_allclose(metrics["accuracy"], acc)
  assert float(metrics["z_std"]) > 0.01
  mt.assert_batch_stats_moved(extra, new_extra)


def test_one_random_rotation_per_image():
  config, method, params, extra, batch = _setup(all_rotations=False)
  rng = jax.random.key(4)
  value, _ = jax.jit(method.loss)(params, extra, batch, rng, 0)
  rotated, labels = pretext.rotation(rng, batch["image"])
  logits = _logits(config, params, extra, rotated)
  ref = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
  np.testing.assert_allclose(value, ref, rtol=1e-5)


def test_loss_falls_on_a_fixed_batch():
  _, method, params, extra, batch = _setup()
  losses, *_ = pt.train_losses(method, params, extra, batch)
  pt.assert_learns(losses)


def test_features_are_backbone_in_inference_mode():
  config, method, params, extra, batch = _setup()
  feats = mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["image"]
  )
  assert feats.shape == (8, 128)


def test_config_errors_name_the_key():
  key = "method.head_hidden_dim"
  pt.assert_config_error_names_key("rotation", key, -1, key)
