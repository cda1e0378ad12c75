"""Tests for jaxssl.models.prototype_heads: DINO head, SwAV prototypes.

Checked against hand-written numpy: the weight-normalised last layer has
unit columns (norm_last_layer), is invariant to the scale of its stored
kernel, and its gradient is tangent to the sphere (SwAV's equivalence
argument).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import models
from jaxssl.models import prototype_heads as ph


def _x(n=6, d=5, seed=0):
  return jax.random.normal(jax.random.key(seed), (n, d))


def _unit_cols(v):
  v = np.asarray(v, np.float64)
  return v / np.linalg.norm(v, axis=0, keepdims=True)


def _unit_rows(z):
  z = np.asarray(z, np.float64)
  return z / np.linalg.norm(z, axis=1, keepdims=True)


def test_dino_head_layout_and_shapes():
  head = ph.DINOHead(
    num_prototypes=16, hidden_dim=8, bottleneck_dim=4, num_layers=3
  )
  variables = head.init(jax.random.key(0), _x(), train=False)
  shapes = jax.tree.map(jnp.shape, variables["params"])
  assert shapes == {
    "dense0": {"kernel": (5, 8), "bias": (8,)},
    "dense1": {"kernel": (8, 8), "bias": (8,)},
    "dense2": {"kernel": (8, 4), "bias": (4,)},
    "last_layer": {"kernel": (4, 16)},  # no gain: norm_last_layer
  }
  assert "batch_stats" not in variables
  out = head.apply(variables, _x(), train=False)
  assert out["z"].shape == (6, 4) and out["logits"].shape == (6, 16)
  # MLP weights start trunc-normal(0.02), biases 0 (official _init_weights).
  kernel = np.asarray(variables["params"]["dense1"]["kernel"])
  assert 0.01 < kernel.std() < 0.03 and np.abs(kernel).max() <= 0.04 + 1e-6
  np.testing.assert_array_equal(variables["params"]["dense1"]["bias"], 0)


def test_dino_head_one_layer_and_batch_norm():
  one = ph.DINOHead(num_prototypes=3, bottleneck_dim=4, num_layers=1)
  params = one.init(jax.random.key(0), _x(), train=False)["params"]
  assert sorted(params) == ["dense0", "last_layer"]
  assert params["dense0"]["kernel"].shape == (5, 4)
  bn = ph.DINOHead(
    num_prototypes=3, hidden_dim=8, bottleneck_dim=4, use_bn=True
  )
  variables = bn.init(jax.random.key(0), _x(), train=False)
  assert sorted(variables["batch_stats"]) == ["bn0", "bn1"]


def test_dino_last_layer_is_unit_columns_of_the_stored_kernel():
  head = ph.DINOHead(num_prototypes=7, hidden_dim=8, bottleneck_dim=4)
  variables = head.init(jax.random.key(1), _x(), train=False)
  out = head.apply(variables, _x(), train=False)
  v = variables["params"]["last_layer"]["kernel"]
  expected = _unit_rows(out["z"]) @ _unit_cols(v)
  np.testing.assert_allclose(out["logits"], expected, rtol=1e-5, atol=1e-6)
  # Logits are cosines with unit prototypes: in [-1, 1].
  assert np.abs(out["logits"]).max() <= 1 + 1e-6
  # Weight norm: rescaling a stored column changes nothing.
  scaled = jax.tree.map(lambda a: a, variables)
  scaled["params"]["last_layer"]["kernel"] = v * jnp.arange(1.0, 8.0)
  np.testing.assert_allclose(
    head.apply(scaled, _x(), train=False)["logits"],
    out["logits"],
    rtol=1e-5,
    atol=1e-6,
  )


def test_dino_learned_gain_without_norm_last_layer():
  head = ph.DINOHead(
    num_prototypes=5, hidden_dim=8, bottleneck_dim=4, norm_last_layer=False
  )
  variables = head.init(jax.random.key(0), _x(), train=False)
  np.testing.assert_array_equal(variables["params"]["last_layer"]["scale"], 1)
  base = head.apply(variables, _x(), train=False)["logits"]
  variables["params"]["last_layer"]["scale"] = jnp.arange(1.0, 6.0)
  np.testing.assert_allclose(
    head.apply(variables, _x(), train=False)["logits"],
    base * np.arange(1.0, 6.0),
    rtol=1e-5,
    atol=1e-6,
  )


def test_swav_head_scores_are_cosines_with_unit_prototypes():
  projector = models.projector(num_layers=2, hidden_dim=8, out_dim=4)
  head = ph.SwAVHead(projector, num_prototypes=6)
  variables = head.init(jax.random.key(0), _x(), train=False)
  assert variables["params"]["prototypes"]["kernel"].shape == (4, 6)
  out = head.apply(variables, _x(), train=False)
  np.testing.assert_allclose(np.linalg.norm(out["z"], axis=1), 1, rtol=1e-5)
  v = variables["params"]["prototypes"]["kernel"]
  np.testing.assert_allclose(
    out["scores"], np.asarray(out["z"]) @ _unit_cols(v), rtol=1e-5, atol=1e-6
  )


def test_prototype_gradient_is_tangent_to_the_sphere():
  # d/dv of f(v / ||v||) has no component along v (per column): the radial
  # part of the gradient, which SwAV's re-normalisation discards, is gone.
  layer = ph.Prototypes(5)
  z = ph.l2_normalize(_x(d=4))
  params = layer.init(jax.random.key(0), z)["params"]
  target = jax.random.normal(jax.random.key(2), (6, 5))

  def f(p):
    return jnp.sum(jnp.sin(layer.apply({"params": p}, z)) * target)

  g = np.asarray(jax.grad(f)(params)["kernel"], np.float64)
  v = np.asarray(params["kernel"], np.float64)
  assert np.abs(g).max() > 1e-3
  np.testing.assert_allclose(np.sum(g * v, axis=0), 0, atol=1e-6)
  # And equals the gradient w.r.t. the unit weights, projected, / ||v||.
  u = _unit_cols(v)
  g_unit = np.asarray(z, np.float64).T @ (
    np.cos(np.asarray(z) @ u) * np.asarray(target)
  )
  projected = (g_unit - u * np.sum(u * g_unit, axis=0)) / np.linalg.norm(
    v, axis=0
  )
  np.testing.assert_allclose(g, projected, rtol=1e-4, atol=1e-6)


def test_dino_head_rejects_zero_layers():
  with pytest.raises(ValueError, match="num_layers"):
    ph.DINOHead(num_prototypes=3, num_layers=0).init(
      jax.random.key(0), _x(), train=False
    )
