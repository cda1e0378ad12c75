"""Relative position: the loss on the maker's patch pairs, features."""

import functools

import jax
import methods_testing as mt
import numpy as np
import optax
import pretext_testing as pt
import pytest

from jaxssl import pretext
from jaxssl.methods import common
from jaxssl.methods import pretext_common as pc
from jaxssl.models import pretext_heads


@functools.cache
def _setup(normalize_tiles=True):
  config = pt.smoke(
    "relative_position",
    patch_size=8,
    gap=2,
    jitter=2,
    normalize_tiles=normalize_tiles,
  )
  batch = pt.image_batch()
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  return config, method, params, extra, batch


@pytest.mark.parametrize("normalize", [True, False])
def test_loss_is_the_cross_entropy_on_the_makers_pairs(normalize):
  config, method, params, extra, batch = _setup(normalize)
  rng = jax.random.key(2)
  value, (new_extra, metrics) = jax.jit(method.loss)(
    params, extra, batch, rng, 0
  )
  pairs, labels = pretext.relative_position(
    rng, batch["image"], patch_size=8, gap=2, jitter=2
  )
  pairs = np.asarray(pairs)
  assert pairs.shape == (8, 2, 8, 8, 3)
  if normalize:
    mean = pairs.mean(axis=(2, 3, 4), keepdims=True)
    pairs = (pairs - mean) / (pairs.std(axis=(2, 3, 4), keepdims=True) + 1e-5)
  net = pretext_heads.TileClassifier(
    common.backbone(config), pc.hidden_dims(32), 8
  )
  out = mt.train_apply(net, params, extra["batch_stats"], pairs)
  ref = optax.softmax_cross_entropy_with_integer_labels(out["logits"], labels)
  np.testing.assert_allclose(value, ref.mean(), rtol=1e-4)
  np.testing.assert_allclose(
    metrics["accuracy"], np.mean(np.argmax(out["logits"], -1) == labels)
  )
  mt.assert_batch_stats_moved(extra, new_extra)


def test_loss_falls_on_a_fixed_batch():
  _, method, params, extra, batch = _setup()
  losses, *_ = pt.train_losses(method, params, extra, batch)
  pt.assert_learns(losses)


def test_features_are_backbone_on_the_whole_image():
  config, method, params, extra, batch = _setup()
  mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["image"]
  )


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.patch_size", 10, r"method.patch_size=10.*need 36 pixels"),
    ("method.gap", -1, "method.gap"),
    ("method.jitter", -1, "method.jitter"),
    ("method.head_hidden_dim", -1, "method.head_hidden_dim"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  pt.assert_config_error_names_key("relative_position", key, value, match)
