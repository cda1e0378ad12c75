"""SimCLR method vs NumPy references on the tiny model's outputs."""

import jax
import methods_testing as mt
import numpy as np
import pytest

from jaxssl import losses

N = 8
TAU = 0.2


def _config(**method):
  return mt.smoke_config("quickstart", **method)


def np_official_simclr(z1, z2, tau):
  """google-research/simclr `objective.add_contrastive_loss`, in NumPy.

  loss_a (view 1 anchors against [view 2, view 1 without itself]) plus
  loss_b (the same from view 2), each a mean over the batch: the sum of
  both directions' means.
  """
  h1, h2 = mt.np_normalize(z1), mt.np_normalize(z2)
  n = len(h1)
  eye = np.eye(n, dtype=bool)

  def direction(a, b):
    logits = np.concatenate([a @ b.T, np.where(eye, -1e9, a @ a.T)], 1) / tau
    logits -= logits.max(1, keepdims=True)
    log_prob = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -np.mean(log_prob[np.arange(n), np.arange(n)])

  return direction(h1, h2) + direction(h2, h1)


def _loss_and_projections(config, seed=0):
  batch = mt.two_view_batch(np.arange(N), seed=seed)
  method, params, extra = mt.build_and_init(config, batch)
  value, (_, metrics) = method.loss(params, extra, batch, jax.random.key(1), 0)
  z1, z2 = mt.two_view_projections(config, params, extra, batch["views"])
  return value, metrics, z1, z2


def test_default_loss_is_nt_xent_mean():
  config = _config(temperature=TAU)
  assert config.method.loss_scale == 1.0
  value, metrics, z1, z2 = _loss_and_projections(config)
  np.testing.assert_allclose(
    value, losses.nt_xent(z1, z2, temperature=TAU), rtol=1e-5
  )
  np.testing.assert_allclose(
    value, np_official_simclr(z1, z2, TAU) / 2, rtol=1e-4
  )
  assert float(metrics["loss"]) == float(value)


def test_imagenet_config_loss_is_the_official_sum_of_directions():
  # The official TF loss is loss_a + loss_b (2x nt_xent's mean); under LARS
  # the scale sets the step of the non-adapted biases / BN parameters and
  # weight decay's weight against the gradient, so the ImageNet recipe
  # keeps it.
  scale = mt.load_config("simclr_imagenet").method.loss_scale
  assert scale == 2.0
  value, metrics, z1, z2 = _loss_and_projections(
    _config(temperature=TAU, loss_scale=scale)
  )
  np.testing.assert_allclose(value, np_official_simclr(z1, z2, TAU), rtol=1e-4)
  assert float(metrics["loss"]) == float(value)


def test_cifar10_config_keeps_solo_learns_mean():
  # solo-learn's simclr_loss_func is the mean over the 2N anchors.
  assert mt.load_config("simclr_cifar10").method.loss_scale == 1.0


@pytest.mark.parametrize("per_view", [None, True, False])
def test_batchnorm_statistics_per_view(per_view):
  # Official SimCLR (TF) puts both views through the network in one call
  # (BatchNorm over the 2N images): the default; solo-learn's BaseMethod
  # forwards each crop separately (bn_per_view=True in its CIFAR recipe).
  config = _config(temperature=TAU)
  if per_view is not None:
    config.method.bn_per_view = per_view
  assert config.method.bn_per_view == bool(per_view)
  batch = mt.two_view_batch(np.arange(N))
  method, params, extra = mt.build_and_init(config, batch)
  mt.assert_batchnorm_statistics_per_view(
    config,
    method,
    params,
    extra,
    batch,
    lambda z1, z2: losses.nt_xent(z1, z2, temperature=TAU),
  )


def test_cifar10_config_forwards_each_view_separately():
  # solo-learn's recipe: BaseMethod.training_step forwards each crop.
  assert mt.load_config("simclr_cifar10").method.bn_per_view
  assert not mt.load_config("simclr_imagenet").method.bn_per_view


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("method.temperature", 0.0, "method.temperature"),
    ("method.loss_scale", 0.0, "method.loss_scale"),
    ("views.num_views", 3, "num_views"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  mt.assert_build_names_the_key(_config(), key, value, match)


def test_cifar10_config_projector_has_no_batchnorm():
  # solo-learn's SimCLR projector: Linear-ReLU-Linear.
  mt.assert_projector_has_no_batchnorm(mt.load_config("simclr_cifar10"))
