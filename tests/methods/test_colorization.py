"""Colorization: lightness in, rebalanced soft-encoded ab bins out."""

import functools

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pretext_testing as pt
import pytest

from jaxssl import pretext
from jaxssl.methods import common
from jaxssl.models import pretext_heads


@functools.cache
def _setup():
  config = pt.smoke("colorization", target_size=8, decoder_dim=16)
  batch = pt.image_batch()
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  return config, method, params, extra, batch


def _lab(config, images):
  rgb = np.clip(
    np.asarray(images) * np.asarray(config.data.std) + config.data.mean, 0, 1
  )
  return np.asarray(pretext.rgb_to_lab(rgb), np.float64)


def test_loss_against_numpy_at_step_zero():
  config, method, params, extra, batch = _setup()
  assert extra["ab_prior"].shape == (len(pretext.ab_gamut_bins()),)
  value, (new_extra, metrics) = jax.jit(method.loss)(
    params, extra, batch, jax.random.key(0), 0
  )
  lab = _lab(config, batch["image"])
  lightness = lab[..., :1] / 50 - 1
  ab = lab[..., 1:].reshape(8, 8, 4, 8, 4, 2).mean(axis=(2, 4))
  bins = pretext.ab_gamut_bins()
  soft = np.asarray(pretext.soft_encode(ab, bins))
  # Step 0: the bias-corrected running prior is this batch's mean target.
  prior = soft.mean(axis=(0, 1, 2))
  m = config.method.prior_momentum
  np.testing.assert_allclose(
    new_extra["ab_prior"], (1 - m) * prior, rtol=1e-4, atol=1e-7
  )
  w = np.asarray(pretext.rebalance_weights(prior, bins))[soft.argmax(-1)]
  # The network: backbone on the lightness, decoder on its last map.
  backbone = common.backbone(config)
  stats = extra["batch_stats"]
  fmap, _, _ = pretext_heads.feature_map(
    backbone,
    {"params": params["backbone"], "batch_stats": stats["backbone"]},
    jnp.asarray(lightness, jnp.float32),
    train=True,
  )
  decoder = pretext_heads.UpDecoder((16,), len(bins))
  logits = mt.train_apply(decoder, params["decoder"], stats["decoder"], fmap)
  assert logits.shape == (8, 8, 8, len(bins))
  log_p = np.asarray(jax.nn.log_softmax(logits), np.float64)
  ce = -(soft * log_p).sum(-1)
  np.testing.assert_allclose(value, (w * ce).mean(), rtol=1e-4)
  np.testing.assert_allclose(metrics["unweighted_loss"], ce.mean(), rtol=1e-4)
  mt.assert_batch_stats_moved(extra["batch_stats"], new_extra["batch_stats"])


def test_loss_falls_on_a_fixed_batch():
  _, method, params, extra, batch = _setup()
  losses, *_ = pt.train_losses(method, params, extra, batch, lr=3e-3)
  pt.assert_learns(losses)


def test_features_see_the_lightness_only():
  config, method, params, extra, batch = _setup()
  features = jax.jit(method.features)
  feats = features(params, extra, batch)
  lightness = _lab(config, batch["image"])[..., :1] / 50 - 1
  ref = common.backbone(config).apply(
    {
      "params": params["backbone"],
      "batch_stats": extra["batch_stats"]["backbone"],
    },
    jnp.asarray(lightness, jnp.float32),
    train=False,
  )["feats"]
  np.testing.assert_allclose(feats, ref, rtol=1e-4, atol=1e-5)
  # Per example, independent of the rest of the batch (inference mode).
  one = features(params, extra, {"image": batch["image"][:1]})
  np.testing.assert_allclose(one, feats[:1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.target_size", 5, "method.target_size=5.*divide"),
    ("method.rebalance_mix", 1.5, "method.rebalance_mix"),
    ("method.prior_momentum", 1.0, "method.prior_momentum"),
    ("method.soft_sigma", 0.0, "method.soft_sigma"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  pt.assert_config_error_names_key("colorization", key, value, match)


def test_target_size_must_be_the_map_times_a_power_of_two():
  config = pt.smoke("colorization", target_size=16)
  config.method.target_size = 2  # divides 32, but below the 4x4 map
  method = mt.methods.build(config)
  with pytest.raises(ValueError, match="method.target_size=2.*4-pixel"):
    jax.eval_shape(method.init, jax.random.key(0), pt.image_batch())
