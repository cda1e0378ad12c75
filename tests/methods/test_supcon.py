"""SupCon method vs a NumPy reference on the tiny model's outputs."""

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pytest

from jaxssl import losses, methods

N = 8
TAU = 0.2


def _config(**method):
  return mt.smoke_config("supcon_quick", **method)


def np_supcon(z1, z2, labels, tau):
  """L_out of Khosla et al. (Eq. 2), written out anchor by anchor."""
  z = np.concatenate([z1, z2]).astype(np.float64)
  z /= np.linalg.norm(z, axis=1, keepdims=True)
  y = np.concatenate([labels, labels])
  total = 0.0
  for i in range(len(z)):
    others = [a for a in range(len(z)) if a != i]
    log_denom = np.log(np.sum(np.exp(z[i] @ z[others].T / tau)))
    pos = [p for p in others if y[p] == y[i]]
    total += -np.mean([z[i] @ z[p] / tau - log_denom for p in pos])
  return total / len(z)


LABELS = np.array([0, 1, 0, 2, 1, 0, 3, 2])


@pytest.fixture(scope="module")
def setup():
  config = _config(temperature=TAU)
  batch = mt.two_view_batch(LABELS)
  method, params, extra = mt.build_and_init(config, batch)
  return config, method, params, extra, batch


def _loss(method, params, extra, batch):
  return method.loss(params, extra, batch, jax.random.key(1), 0)


def test_loss_is_the_library_loss_and_numpy(setup):
  config, method, params, extra, batch = setup
  value, (new_extra, metrics) = _loss(method, params, extra, batch)
  z1, z2 = mt.two_view_projections(config, params, extra, batch["views"])
  library = losses.supcon(
    jnp.stack([z1, z2], 1), batch["label"], temperature=TAU
  )
  np.testing.assert_allclose(value, library, rtol=1e-5)
  np.testing.assert_allclose(value, np_supcon(z1, z2, LABELS, TAU), rtol=1e-4)
  assert float(metrics["loss"]) == float(value)
  for key in ("z_std", "pos_cos", "class_cos"):
    assert np.isfinite(metrics[key]), key
  # class_cos: mean cosine of distinct same-label examples (view 0).
  u = np.asarray(z1, np.float64)
  u /= np.linalg.norm(u, axis=1, keepdims=True)
  pairs = [
    (i, j)
    for i in range(N)
    for j in range(N)
    if i != j and LABELS[i] == LABELS[j]
  ]
  np.testing.assert_allclose(
    metrics["class_cos"], np.mean([u[i] @ u[j] for i, j in pairs]), rtol=1e-5
  )
  mt.assert_batch_stats_moved(extra, new_extra)


def test_distinct_labels_give_nt_xent(setup):
  # Every example its own class: SupCon is SimCLR's NT-Xent.
  config, method, params, extra, batch = setup
  distinct = {**batch, "label": jnp.arange(N, dtype=jnp.int32) * 7}
  value, _ = _loss(method, params, extra, distinct)
  z1, z2 = mt.two_view_projections(config, params, extra, batch["views"])
  np.testing.assert_allclose(
    value, losses.nt_xent(z1, z2, temperature=TAU), rtol=1e-5
  )
  np.testing.assert_allclose(
    value, np_supcon(z1, z2, np.arange(N), TAU), rtol=1e-4
  )


def test_labels_are_used(setup):
  _, method, params, extra, batch = setup
  value, _ = _loss(method, params, extra, batch)
  other = {**batch, "label": jnp.asarray(np.roll(LABELS, 1), jnp.int32)}
  changed, _ = _loss(method, params, extra, other)
  assert abs(float(value) - float(changed)) > 1e-3
  # A relabelling that keeps the partition keeps the loss.
  renamed = {**batch, "label": jnp.asarray(LABELS * 5 + 11, jnp.int32)}
  same, _ = _loss(method, params, extra, renamed)
  np.testing.assert_allclose(same, value, rtol=1e-6)


@pytest.mark.parametrize("per_view", [None, True, False])
def test_batchnorm_statistics_per_view(setup, per_view):
  # Official SupCon (HobbitLong/SupContrast main_supcon.py) concatenates
  # the two views into one forward: the default; solo-learn forwards each
  # crop separately (bn_per_view=True in its CIFAR recipe).
  _, method, params, extra, batch = setup
  config = _config(temperature=TAU)
  if per_view is not None:
    config.method.bn_per_view = per_view
    method = methods.build(config)
  assert config.method.bn_per_view == bool(per_view)
  labels = batch["label"]
  mt.assert_batchnorm_statistics_per_view(
    config,
    method,
    params,
    extra,
    batch,
    lambda z1, z2: losses.supcon(
      jnp.stack([z1, z2], 1), labels, temperature=TAU
    ),
  )


def test_cifar10_config_forwards_each_view_separately():
  assert mt.load_config("supcon_cifar10").method.bn_per_view
  assert not mt.load_config("supcon_imagenet").method.bn_per_view


def test_both_branches_get_gradient(setup):
  _, method, params, extra, batch = setup
  mt.assert_every_view_gets_gradient(method, params, extra, batch)


def test_features_are_backbone_in_inference_mode(setup):
  config, method, params, extra, batch = setup
  feats = mt.assert_features_are_backbone_in_inference_mode(
    config, method, params, extra, batch["views"][:, 0]
  )
  assert feats.shape == (N, 128)


def test_missing_label_is_an_error(setup):
  _, method, params, extra, batch = setup
  with pytest.raises(ValueError, match="label"):
    _loss(method, params, extra, {"views": batch["views"]})


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("model.proj_layers", 0, "model.proj_layers"),
    ("views.num_views", 3, "num_views"),
  ],
)
def test_config_errors_name_the_key(key, value, match):
  mt.assert_build_names_the_key(_config(), key, value, match)


def test_cifar10_config_projector_has_no_batchnorm():
  # solo-learn's SupCon projector: Linear-ReLU-Linear.
  mt.assert_projector_has_no_batchnorm(mt.load_config("supcon_cifar10"))
