"""Denoising autoencoder: corruption, the reconstruction loss, features."""

import functools

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pretext_testing as pt
import pytest

from jaxssl.methods import common, denoising_ae
from jaxssl.models import pretext_heads


@functools.cache
def _setup(**method):
  config = pt.smoke("denoising_ae", **method)
  batch = pt.image_batch()
  m, params, extra = mt.build_and_init(config, batch, jit=True)
  return config, m, params, extra, batch


def test_masking_noise_drops_whole_pixels_at_the_rate():
  images = jnp.ones((64, 32, 32, 3))
  noisy, hit = denoising_ae.corrupt(
    jax.random.key(0), images, corruption="mask", noise_level=0.25
  )
  noisy, hit = np.asarray(noisy), np.asarray(hit)
  expected = np.where(hit[..., None], 0.0, np.ones(images.shape))
  np.testing.assert_array_equal(noisy, expected)
  assert abs(hit.mean() - 0.25) < 0.01
  noisy, hit = denoising_ae.corrupt(
    jax.random.key(0), images, corruption="gaussian", noise_level=0.5
  )
  assert hit.all() and abs(float(jnp.std(noisy)) - 0.5) < 0.01


def test_without_noise_the_loss_is_the_autoencoder_mse():
  config, method, params, extra, batch = _setup(noise_level=0.0)
  value, (new_extra, metrics) = jax.jit(method.loss)(
    params, extra, batch, jax.random.key(0), 0
  )
  stats = extra["batch_stats"]
  feats = mt.train_apply(
    common.backbone(config),
    params["backbone"],
    stats["backbone"],
    batch["image"],
  )["feats"]
  decoder = pretext_heads.UpDecoder((16, 8, 8), 3, start_side=4)
  recon = mt.train_apply(decoder, params["decoder"], stats["decoder"], feats)
  assert recon.shape == batch["image"].shape
  ref = np.mean((np.asarray(recon) - np.asarray(batch["image"])) ** 2)
  np.testing.assert_allclose(value, ref, rtol=1e-5)
  assert float(metrics["corrupted_loss"]) == 0.0  # nothing corrupted
  mt.assert_batch_stats_moved(extra["batch_stats"], new_extra["batch_stats"])


def test_corrupted_pixels_only_change_the_input():
  # The target is the clean image: corrupting differently (another key)
  # changes the loss, and the error on the corrupted pixels is reported.
  _, method, params, extra, batch = _setup()
  loss = jax.jit(method.loss)
  a, (_, ma) = loss(params, extra, batch, jax.random.key(0), 0)
  b, _ = loss(params, extra, batch, jax.random.key(1), 0)
  assert float(a) != float(b)
  assert np.isfinite(ma["corrupted_loss"]) and float(ma["z_std"]) > 0.01


def test_loss_falls_on_a_fixed_batch():
  _, method, params, extra, batch = _setup()
  losses, *_ = pt.train_losses(method, params, extra, batch, lr=3e-3)
  pt.assert_learns(losses)


def test_features_are_backbone_on_the_clean_image():
  config, method, params, extra, batch = _setup()
  mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["image"]
  )


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.corruption", "salt", "method.corruption='salt'"),
    ("method.noise_level", 1.0, "method.noise_level"),
    ("method.decoder_stages", 6, "method.decoder_stages=6"),
    ("method.decoder_dim", 0, "method.decoder_dim"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  pt.assert_config_error_names_key("denoising_ae", key, value, match)
