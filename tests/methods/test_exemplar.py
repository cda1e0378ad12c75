"""Exemplar CNN: the image index is the class of each of its views."""

import functools

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import optax
import pretext_testing as pt
import pytest

from jaxssl.methods import exemplar
from jaxssl.methods import pretext_common as pc

N = 8


def _batch(index=None, seed=0):
  batch = mt.two_view_batch(np.zeros(N), seed=seed)
  batch["index"] = jnp.asarray(
    np.arange(N) if index is None else index, jnp.int32
  )
  return batch


@functools.cache
def _setup(num_exemplars=20):
  config = pt.smoke("exemplar", num_exemplars=num_exemplars)
  method, params, extra = mt.build_and_init(config, _batch(), jit=True)
  return config, method, params, extra


def _logits(config, params, extra, views):
  encoder = pc.classifier(config, config.method.num_exemplars)
  images = jnp.concatenate([views[:, 0], views[:, 1]])
  return mt.train_apply(encoder, params, extra["batch_stats"], images)["z"]


def test_loss_is_the_cross_entropy_of_every_view_on_its_index():
  config, method, params, extra = _setup()
  last = max(params["projector"])  # the classifier's last Linear layer
  assert params["projector"][last]["kernel"].shape[-1] == 20
  index = np.array([3, 0, 19, 7, 7, 12, 5, 1])
  batch = _batch(index)
  value, (new_extra, metrics) = jax.jit(method.loss)(
    params, extra, batch, jax.random.key(0), 0
  )
  logits = _logits(config, params, extra, batch["views"])
  labels = np.concatenate([index, index])
  ref = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  np.testing.assert_allclose(value, ref.mean(), rtol=1e-5)
  assert float(metrics["z_std"]) > 0.01 and np.isfinite(metrics["pos_cos"])
  mt.assert_batch_stats_moved(extra, new_extra)


def test_images_outside_the_surrogate_classes_are_left_out():
  config, method, params, extra = _setup()
  index = np.array([3, 0, 25, 7, -1, 12, 40, 1])  # 25, -1, 40: no class
  batch = _batch(index)
  value, _ = jax.jit(method.loss)(params, extra, batch, jax.random.key(0), 0)
  logits = _logits(config, params, extra, batch["views"])
  labels = np.concatenate([index, index])
  keep = (labels >= 0) & (labels < 20)
  ref = optax.softmax_cross_entropy_with_integer_labels(
    logits[keep], labels[keep]
  )
  np.testing.assert_allclose(value, ref.mean(), rtol=1e-5)


def test_every_view_gets_gradient_and_loss_falls():
  _, method, params, extra = _setup()
  batch = _batch()
  mt.assert_every_view_gets_gradient(method, params, extra, batch)
  losses, *_ = pt.train_losses(method, params, extra, batch, lr=3e-3)
  pt.assert_learns(losses)


def test_default_classes_are_the_train_split():
  config = pt.smoke("exemplar")
  assert config.method.num_exemplars == 0
  assert exemplar.num_classes(config) == 14380  # embedded digits, train


def test_features_are_backbone_in_inference_mode():
  config, method, params, extra = _setup()
  mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, _batch()["views"][:, 0]
  )


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.num_exemplars", -1, "method.num_exemplars"),
    ("method.head_hidden_dim", -1, "method.head_hidden_dim"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  pt.assert_config_error_names_key("exemplar", key, value, match)


def test_one_view_is_rejected():
  config = pt.smoke("exemplar")
  mt.assert_build_names_the_key(config, "views.num_views", 1, "num_views")
