"""Tests for jaxssl.models: shapes, conv impls, BatchNorm, registry, heads."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib
from jaxssl import models
from jaxssl.models import conv as conv_lib
from jaxssl.models import resnet


def _images(n=4, size=32, seed=0):
  return jax.random.normal(jax.random.key(seed), (n, size, size, 3))


def _init(model, x, **kwargs):
  """Jitted init: eager init compiles every op separately, which is slower."""
  return jax.jit(lambda x: model.init(jax.random.key(0), x, **kwargs))(x)


def _micro_resnet(block="basic", conv_impl="matmul"):
  """Two stages (so a projection shortcut) of narrow blocks: fast to compile."""
  return models.ResNet(stage_sizes=(1, 1), widths=(4, 8), block=block,
                       stem_width=8, stem_stride=2, conv_impl=conv_impl)


def _model_config(**overrides):
  config = configs_lib.base_config().model
  config.update(overrides)
  return config


# --- Conv implementations --------------------------------------------------


@pytest.mark.parametrize("kernel,stride", [(3, 1), (3, 2), (1, 2), (7, 2)])
def test_conv_impls_match_flax_conv_values_and_grads(kernel, stride):
  x = _images(n=2, size=9)[..., :3] * 2.0
  ref = nn.Conv(5, (kernel, kernel), (stride, stride),
                padding=[((kernel - 1) // 2,) * 2] * 2, use_bias=True)
  variables = ref.init(jax.random.key(1), x)
  variables = jax.tree.map(lambda a: a + 0.1, variables)  # non-zero bias

  def loss(module):
    def f(variables, x):
      return jnp.sum(jnp.sin(module.apply(variables, x)))
    return jax.jit(jax.value_and_grad(f, argnums=(0, 1)))

  want_value, want_grads = loss(ref)(variables, x)
  for impl in conv_lib.IMPLS:
    module = models.Conv(5, (kernel, kernel), (stride, stride), use_bias=True,
                         impl=impl)
    value, grads = loss(module)(variables, x)
    np.testing.assert_allclose(value, want_value, rtol=1e-5, atol=1e-4)
    chex.assert_trees_all_close(grads, want_grads, rtol=1e-4, atol=1e-4)


def test_conv_params_layout_is_flax_conv():
  x = _images(n=1, size=8)
  shapes = jax.eval_shape(models.Conv(7, (3, 3), impl="matmul").init,
                          jax.random.key(0), x)
  assert jax.tree.map(lambda s: s.shape, shapes) == {
      "params": {"kernel": (3, 3, 3, 7)}}


def test_conv_unknown_impl():
  with pytest.raises(ValueError, match="impl='cuda' is not one of"):
    models.Conv(4, impl="cuda").init(jax.random.key(0), _images(n=1, size=4))


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_resnet_impls_match_values_and_grads(block):
  images = _images(n=4, size=16)
  xla = _micro_resnet(block, conv_impl="xla")
  mm = _micro_resnet(block, conv_impl="matmul")
  variables = _init(mm, images, train=False)
  # Non-zero gammas so every conv reaches the output.
  variables = jax.tree.map(lambda a: a + 0.5, variables)

  def step(model):
    def f(params):
      out, _ = model.apply({**variables, "params": params}, images,
                           train=True, mutable=["batch_stats"])
      return jnp.sum(jnp.square(out["feats"]))
    return jax.jit(jax.value_and_grad(f))(variables["params"])

  (v1, g1), (v2, g2) = step(xla), step(mm)
  np.testing.assert_allclose(v1, v2, rtol=1e-4)
  chex.assert_trees_all_close(g1, g2, rtol=2e-3, atol=2e-4)


# --- ResNets ---------------------------------------------------------------


def test_tiny_resnet_output_and_size():
  model = models.backbone(_model_config(name="tiny_resnet"))
  images = _images(n=3)
  variables = _init(model, images, train=False)
  out = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, images)
  chex.assert_shape(out["feats"], (3, 128))
  chex.assert_tree_all_finite(out)
  assert out["feats"].dtype == jnp.float32
  assert model.num_features == 128
  assert 0.2e6 < models.num_params(variables["params"]) < 1e6
  for leaf in jax.tree.leaves(variables):
    assert leaf.dtype == jnp.float32


def test_resnet_residual_blocks_start_as_identity():
  variables = _init(resnet.tiny_resnet(), _images(n=1), train=False)
  for name, block in variables["params"].items():
    if name.startswith("stage"):
      np.testing.assert_array_equal(block["BatchNorm_1"]["scale"], 0.0)
      np.testing.assert_array_equal(block["BatchNorm_0"]["scale"], 1.0)


def test_batchnorm_train_uses_batch_stats_eval_uses_running():
  model = _micro_resnet()
  images = _images(n=8, size=8)
  variables = _init(model, images, train=False)
  variables = jax.tree.map(lambda a: a + 0.5, variables)
  apply = jax.jit(model.apply, static_argnames=("train", "mutable"))

  # Eval: each example's features do not depend on the rest of the batch.
  full = apply(variables, images, train=False)["feats"]
  half = apply(variables, images[:4], train=False)["feats"]
  np.testing.assert_allclose(full[:4], half, rtol=1e-5, atol=1e-5)
  # Train: they do, and running statistics move by (1 - momentum) = 0.1.
  out, updates = apply(variables, images, train=True, mutable="batch_stats")
  out_half, _ = apply(variables, images[:4], train=True,
                      mutable="batch_stats")
  assert not np.allclose(out["feats"][:4], out_half["feats"], atol=1e-3)
  old = variables["batch_stats"]["stem_bn"]["mean"]
  new = updates["batch_stats"]["stem_bn"]["mean"]
  x = jnp.asarray(images, jnp.float32)
  stem_out = models.Conv(8, (3, 3), (2, 2)).apply(
      {"params": variables["params"]["stem_conv"]}, x)
  np.testing.assert_allclose(new, 0.9 * old + 0.1 * stem_out.mean((0, 1, 2)),
                             rtol=1e-4, atol=1e-5)
  with pytest.raises(Exception):  # batch_stats are immutable unless asked
    model.apply(variables, images, train=True)


@pytest.mark.parametrize("name,size,dim,millions", [
    ("resnet18_cifar", 32, 512, 11.17),
    ("resnet50_cifar", 32, 2048, 23.50),
    ("resnet50", 64, 2048, 23.51),
])
def test_big_resnets_shapes_and_param_counts(name, size, dim, millions):
  model = models.backbone(_model_config(name=name))
  images = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
  variables = jax.eval_shape(
      lambda x: model.init(jax.random.key(0), x, train=False), images)
  out = jax.eval_shape(lambda v, x: model.apply(v, x, train=False),
                       variables, images)
  assert out["feats"].shape == (2, dim)
  assert model.num_features == dim
  count = models.num_params(variables["params"]) / 1e6
  assert abs(count - millions) / millions < 0.02, count


# --- Registry --------------------------------------------------------------


def test_registry_unknown_name():
  with pytest.raises(ValueError) as e:
    models.backbone(_model_config(name="resnet19"))
  msg = str(e.value)
  assert "config.model.name='resnet19' is not one of" in msg
  assert "tiny_resnet" in msg and "resnet50" in msg


def test_registry_builds_every_backbone():
  for name in models.BACKBONES:
    assert isinstance(models.backbone(_model_config(name=name)), nn.Module)


# --- Heads -----------------------------------------------------------------


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_projector_from_config(layers):
  head = models.projector(_model_config(proj_layers=layers,
                                        proj_hidden_dim=32, proj_dim=16))
  x = jnp.ones((4, 8))
  variables = _init(head, x, train=False)
  denses = [k for k in variables["params"] if k.startswith("dense")]
  assert len(denses) == layers
  z, _ = head.apply(variables, x, train=True, mutable=["batch_stats"])
  chex.assert_shape(z, (4, 16))


def test_projector_none_and_negative():
  assert models.projector(_model_config(proj_layers=0)) is None
  with pytest.raises(ValueError, match="proj_layers=-1"):
    models.projector(_model_config(proj_layers=-1))


def test_mlp_last_bn_normalises_output():
  head = models.MLP(hidden_dims=(16,), out_dim=8, last_bn=True)
  x = jax.random.normal(jax.random.key(0), (32, 4)) * 3 + 1
  variables = _init(head, x, train=False)
  assert "bn1" not in variables["params"]  # no affine parameters
  z, _ = jax.jit(lambda v, x: head.apply(v, x, train=True,
                                         mutable=["batch_stats"]))(variables, x)
  np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(z.std(0), 1.0, atol=1e-2)


def test_encoder_outputs():
  config = _model_config(proj_hidden_dim=32, proj_dim=16)
  model = models.Encoder(models.backbone(config), models.projector(config))
  images = _images(n=4)
  variables = _init(model, images, train=False)
  out, updates = jax.jit(
      lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]))(
          variables, images)
  chex.assert_shape(out["feats"], (4, 128))
  chex.assert_shape(out["z"], (4, 16))
  assert set(updates["batch_stats"]) == {"backbone", "projector"}
  bare = models.Encoder(_micro_resnet())
  out = jax.eval_shape(
      lambda x: bare.apply(bare.init(jax.random.key(0), x, train=False), x,
                           train=False), images)
  assert set(out) == {"feats"}
