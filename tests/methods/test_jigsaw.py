"""Jigsaw: the permutation set, the loss on the maker's tiles, features."""

import functools

import jax
import methods_testing as mt
import numpy as np
import optax
import pretext_testing as pt
import pytest

from jaxssl import pretext
from jaxssl.methods import common, jigsaw
from jaxssl.methods import pretext_common as pc
from jaxssl.models import pretext_heads


@functools.cache
def _setup():
  config = pt.smoke("jigsaw", num_permutations=12, tile_size=8)
  batch = pt.image_batch()
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  return config, method, params, extra, batch


def test_permutation_set_has_max_hamming_spread():
  perms = jigsaw.permutations(100, 3, 0)
  assert perms.shape == (100, 9)
  d = (perms[:, None] != perms[None]).sum(-1)[~np.eye(100, dtype=bool)]
  assert d.min() >= 6  # the greedy maximal-Hamming set (random: ~2)
  assert perms is jigsaw.permutations(100, 3, 0)  # built once


def test_loss_is_the_cross_entropy_on_the_makers_tiles():
  config, method, params, extra, batch = _setup()
  rng = jax.random.key(2)
  value, (new_extra, metrics) = jax.jit(method.loss)(
    params, extra, batch, rng, 0
  )
  perms = jigsaw.permutations(12, 3, 0)
  tiles, labels = pretext.jigsaw(
    rng, batch["image"], permutations=perms, tile_size=8
  )
  tiles = np.asarray(tiles)
  # Each tile normalised on its own (NumPy).
  mean = tiles.mean(axis=(2, 3, 4), keepdims=True)
  std = tiles.std(axis=(2, 3, 4), keepdims=True)
  tiles = (tiles - mean) / (std + 1e-5)
  net = pretext_heads.TileClassifier(
    common.backbone(config), pc.hidden_dims(32), 12
  )
  out = mt.train_apply(net, params, extra["batch_stats"], tiles)
  ref = optax.softmax_cross_entropy_with_integer_labels(out["logits"], labels)
  np.testing.assert_allclose(value, ref.mean(), rtol=1e-4)
  assert tiles.shape == (8, 9, 8, 8, 3)
  assert 0 <= float(metrics["accuracy"]) <= 1
  assert float(metrics["z_std"]) > 0.01
  mt.assert_batch_stats_moved(extra, new_extra)


def test_loss_falls_on_a_fixed_batch():
  _, method, params, extra, batch = _setup()
  losses, *_ = pt.train_losses(method, params, extra, batch)
  pt.assert_learns(losses)


def test_features_are_backbone_on_the_whole_image():
  config, method, params, extra, batch = _setup()
  feats = mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["image"]
  )
  assert feats.shape == (8, 128)


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.tile_size", 11, r"method.tile_size=11.*\[1, 10\]"),
    ("method.num_permutations", 1, "method.num_permutations"),
    ("method.grid", 1, "method.grid"),
    ("method.head_hidden_dim", -1, "method.head_hidden_dim"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  pt.assert_config_error_names_key("jigsaw", key, value, match)
