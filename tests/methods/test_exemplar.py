"""Exemplar CNN: the image index is the class of each of its views."""

import functools

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import optax
import pretext_testing as pt
import pytest

from jaxssl import models
from jaxssl.methods import common, exemplar
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


def test_cosine_logits_are_cosines_over_the_temperature():
  """models.CosineClassifier against a float64 NumPy reference."""
  head = models.CosineClassifier((), 0, num_classes=5, temperature=0.2)
  x = np.random.default_rng(0).normal(size=(6, 7)).astype(np.float32)
  params = head.init(jax.random.key(0), x, train=False)
  logits = np.asarray(head.apply(params, x, train=False), np.float64)
  w = np.asarray(params["params"]["classes"], np.float64)
  x64 = x.astype(np.float64)
  cos = (x64 / np.linalg.norm(x64, axis=1, keepdims=True)) @ (
    w / np.linalg.norm(w, axis=0, keepdims=True)
  )
  np.testing.assert_allclose(logits, cos / 0.2, rtol=1e-5, atol=1e-5)
  assert np.abs(logits).max() <= 1 / 0.2 + 1e-5


def test_cosine_exemplar_loss_is_the_cross_entropy_and_learns():
  config = pt.smoke("exemplar", num_exemplars=20, temperature=0.2)
  config.method.embed_dim = 16
  config.method.head_hidden_dim = 32  # an MLP to the 16-d embedding
  method, params, extra = mt.build_and_init(config, _batch(), jit=True)
  assert params["projector"]["classes"].shape == (16, 20)
  index = np.array([3, 0, 19, 7, 7, 12, 5, 1])
  batch = _batch(index)
  value, _ = jax.jit(method.loss)(params, extra, batch, jax.random.key(0), 0)
  m = config.method
  head = models.CosineClassifier(
    pc.hidden_dims(m.head_hidden_dim), m.embed_dim, 20, m.temperature
  )
  encoder = models.Encoder(common.backbone(config), head)
  images = jnp.concatenate([batch["views"][:, 0], batch["views"][:, 1]])
  logits = mt.train_apply(encoder, params, extra["batch_stats"], images)["z"]
  labels = np.concatenate([index, index])
  ref = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  np.testing.assert_allclose(value, ref.mean(), rtol=1e-5)
  assert float(jnp.abs(logits).max()) <= 1 / 0.2 + 1e-4
  losses, *_ = pt.train_losses(method, params, extra, _batch(), lr=3e-3)
  pt.assert_learns(losses)


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.temperature", -0.1, "method.temperature"),
    ("method.embed_dim", 0, "method.embed_dim"),
    ("method.num_exemplars", -1, "method.num_exemplars"),
    ("method.head_hidden_dim", -1, "method.head_hidden_dim"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  pt.assert_config_error_names_key("exemplar", key, value, match)


def test_one_view_is_rejected():
  config = pt.smoke("exemplar")
  mt.assert_build_names_the_key(config, "views.num_views", 1, "num_views")
