"""The supervised baseline: cross-entropy vs NumPy, both kinds, features."""

import functools

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pretext_testing as pt
import pytest

from jaxssl import configs_lib, methods
from jaxssl.methods import common
from jaxssl.methods import pretext_common as pc

LABELS = [0, 3, 1, 9, 3, 2, 7, 0]


@functools.cache
def _setup(kind="views"):
  config = mt.smoke_config("supervised_quick")
  if kind == "images":
    config = configs_lib.base_config("supervised", data_kind="images")
    configs_lib.make_smoke(config)
    config = configs_lib.validate(config)
    batch = pt.image_batch()
    batch["label"] = jnp.asarray(LABELS, jnp.int32)
  else:
    batch = mt.two_view_batch(LABELS)
  method, params, extra = mt.build_and_init(config, batch, jit=True)
  return config, method, params, extra, batch


def _np_cross_entropy(logits, labels):
  """Mean softmax cross-entropy in float64, from its definition."""
  logits = np.asarray(logits, np.float64)
  top = logits.max(-1, keepdims=True)
  log_z = np.log(np.exp(logits - top).sum(-1)) + top[:, 0]
  return np.mean(log_z - logits[np.arange(len(labels)), labels])


def _logits(config, params, extra, images):
  encoder = pc.classifier(config, config.method.num_classes)
  return mt.train_apply(encoder, params, extra["batch_stats"], images)["z"]


def test_loss_is_cross_entropy_over_every_view():
  config, method, params, extra, batch = _setup()
  value, (new_extra, metrics) = jax.jit(method.loss)(
    params, extra, batch, jax.random.key(3), 0
  )
  views = np.asarray(batch["views"])
  # Both views of each example, each with the example's label.
  images = np.concatenate([views[:, 0], views[:, 1]])
  labels = np.array(LABELS * 2)
  logits = np.asarray(_logits(config, params, extra, jnp.asarray(images)))
  assert logits.shape == (16, 10)
  np.testing.assert_allclose(
    value, _np_cross_entropy(logits, labels), rtol=1e-5
  )
  np.testing.assert_allclose(
    metrics["accuracy"], np.mean(logits.argmax(-1) == labels)
  )
  assert float(metrics["z_std"]) > 0.01
  mt.assert_batch_stats_moved(extra, new_extra)


def test_images_kind_reads_the_image():
  config, method, params, extra, batch = _setup("images")
  value, _ = jax.jit(method.loss)(params, extra, batch, jax.random.key(0), 0)
  logits = _logits(config, params, extra, batch["image"])
  np.testing.assert_allclose(
    value, _np_cross_entropy(logits, np.array(LABELS)), rtol=1e-5
  )


def test_linear_head_by_default():
  config, _, params, _, _ = _setup()
  assert config.method.head_hidden_dim == 0
  shapes = [np.shape(x) for x in jax.tree.leaves(params["projector"])]
  assert sorted(shapes) == [(10,), (128, 10)]


def test_loss_falls_on_a_fixed_batch():
  _, method, params, extra, batch = _setup()
  losses, *_ = pt.train_losses(method, params, extra, batch, lr=1e-2)
  pt.assert_learns(losses)


def test_features_are_backbone_in_inference_mode():
  config, method, params, extra, batch = _setup()
  images = common.merge_views(batch["views"])[:8]
  feats = mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, images
  )
  assert feats.shape == (8, 128)


def test_config_errors_name_the_key():
  for key, value in (
    ("method.num_classes", 1),
    ("method.head_hidden_dim", -1),
  ):
    pt.assert_config_error_names_key("supervised", key, value, key)
  config = mt.smoke_config("supervised_quick")
  config.data.views.more = configs_lib.view_group()
  with pytest.raises(ValueError, match="one view group"):
    methods.build(config)
  assert "supervised" in methods.METHODS
