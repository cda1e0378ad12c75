"""Tests for jaxssl.models: shapes, conv impls, BatchNorm, ViT, registry, heads.

XLA compilation dominates the run time, so each test compiles one jitted
function where it can, uses micro models, and checks big models with
`jax.eval_shape` only.
"""

import dataclasses

import chex
import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib, models
from jaxssl.methods import common, mae
from jaxssl.models import conv as conv_lib
from jaxssl.models import resnet, vit


def _images(n=4, size=32, seed=0):
  return jax.random.normal(jax.random.key(seed), (n, size, size, 3))


def _init(model, x, **kwargs):
  """Jitted init: eager init compiles every op separately, which is slower."""
  return jax.jit(lambda x: model.init(jax.random.key(0), x, **kwargs))(x)


def _abstract_init(model, shape, **kwargs):
  return jax.eval_shape(
    lambda x: model.init(jax.random.key(0), x, **kwargs),
    jax.ShapeDtypeStruct(shape, jnp.float32),
  )


# --- Conv implementations --------------------------------------------------


def test_conv_impls_match_flax_conv_values_and_grads():
  x = _images(n=2, size=9) * 2.0
  cases = [(3, 1), (3, 2), (1, 2), (7, 2)]
  keys = jax.random.split(jax.random.key(1), 2 * len(cases))
  variables = [
    {
      "params": {
        "kernel": jax.random.normal(keys[2 * i], (k, k, 3, 5)) / k,
        "bias": jax.random.normal(keys[2 * i + 1], (5,)),
      }
    }
    for i, (k, _) in enumerate(cases)
  ]

  @jax.jit
  def values_and_grads(variables, x):
    out = []
    for (k, s), v in zip(cases, variables):
      modules = [nn.Conv(5, (k, k), (s, s), padding=[((k - 1) // 2,) * 2] * 2)]
      modules += [
        models.Conv(5, (k, k), (s, s), use_bias=True, impl=impl)
        for impl in conv_lib.IMPLS
      ]
      out.append(
        [
          jax.value_and_grad(
            lambda v, x, m=m: jnp.sum(jnp.sin(m.apply(v, x))), argnums=(0, 1)
          )(v, x)
          for m in modules
        ]
      )
    return out

  for case, results in zip(cases, values_and_grads(variables, x)):
    (want_value, want_grads), *impls = results
    for impl, (value, grads) in zip(conv_lib.IMPLS, impls):
      np.testing.assert_allclose(
        value, want_value, rtol=1e-5, atol=1e-4, err_msg=f"{impl} {case}"
      )
      chex.assert_trees_all_close(grads, want_grads, rtol=1e-4, atol=1e-4)


def test_conv_params_layout_and_errors():
  shapes = _abstract_init(models.Conv(7, (3, 3), impl="matmul"), (1, 8, 8, 3))
  assert jax.tree.map(lambda s: s.shape, shapes) == {
    "params": {"kernel": (3, 3, 3, 7)}
  }
  with pytest.raises(ValueError, match="impl='cuda' is not one of"):
    _abstract_init(models.Conv(4, impl="cuda"), (1, 4, 4, 3))


def test_block_impls_match_values_and_grads():
  # Conv-level equality is tested above for every impl; this checks a strided
  # block with its projection shortcut and BatchNorms once more.
  x = _images(n=4, size=8)
  xla = resnet.BasicBlock(8, strides=2, conv_impl="xla")
  mm = resnet.BasicBlock(8, strides=2, conv_impl="matmul")
  # Non-zero gammas everywhere so every conv reaches the output.
  variables = jax.tree.map(lambda a: a + 0.5, _init(xla, x, train=False))

  @jax.jit
  def values_and_grads(variables, x):
    def f(params, x, net):
      y, _ = net.apply(
        {**variables, "params": params}, x, train=True, mutable=["batch_stats"]
      )
      return jnp.sum(jnp.square(y))

    return [
      jax.value_and_grad(f, argnums=(0, 1))(variables["params"], x, net)
      for net in (xla, mm)
    ]

  (v1, g1), (v2, g2) = values_and_grads(variables, x)
  np.testing.assert_allclose(v1, v2, rtol=1e-4)
  chex.assert_trees_all_close(g1, g2, rtol=1e-3, atol=1e-4)


# --- ResNets ---------------------------------------------------------------


def test_tiny_resnet_size_dtypes_and_residual_init():
  model = models.backbone("tiny_resnet")
  assert model.conv_impl == "xla" and model.num_features == 128
  assert not model.zero_init_residual  # torchvision's default
  variables = _abstract_init(model, (3, 32, 32, 3), train=False)
  assert 0.2e6 < models.num_params(variables["params"]) < 1e6
  for leaf in jax.tree.leaves(variables):
    assert leaf.dtype == jnp.float32
  # The last BN of each residual block starts at gamma = 1, or 0 (the block
  # = its shortcut) with zero_init_residual; the others always at 1.
  x = _images(n=1, size=4)
  for block, last in [(resnet.BasicBlock, 1), (resnet.Bottleneck, 2)]:
    for zero in (False, True):
      module = block(4, strides=2, zero_init_residual=zero)
      params = _init(module, x, train=False)["params"]
      np.testing.assert_array_equal(
        params[f"BatchNorm_{last}"]["scale"], 0.0 if zero else 1.0
      )
      np.testing.assert_array_equal(params["BatchNorm_0"]["scale"], 1.0)
      np.testing.assert_array_equal(params["proj_bn"]["scale"], 1.0)


@pytest.mark.parametrize("zero", [False, True])
def test_zero_init_residual_from_the_config_reaches_every_block(zero):
  config = configs_lib.base_config("simclr")
  config.model.zero_init_residual = zero
  model = common.backbone(config)
  params = _init(model, _images(n=2, size=32), train=False)["params"]
  scales = {
    block: np.asarray(p["BatchNorm_1"]["scale"])
    for block, p in params.items()
    if block.startswith("stage")
  }
  assert sorted(scales) == ["stage1_block1", "stage2_block1", "stage3_block1"]
  for scale in scales.values():
    np.testing.assert_array_equal(scale, 0.0 if zero else 1.0)


def test_batchnorm_train_uses_batch_stats_eval_uses_running():
  model = models.ResNet(
    stage_sizes=(1,), widths=(4,), stem_width=8, stem_stride=2, conv_impl="xla"
  )
  images = _images(n=8, size=8)
  variables = jax.tree.map(lambda a: a + 0.5, _init(model, images, train=False))

  @jax.jit
  def run(variables, images):
    full = model.apply(variables, images, train=False)["feats"]
    half = model.apply(variables, images[:4], train=False)["feats"]
    train, updates = model.apply(
      variables, images, train=True, mutable=["batch_stats"]
    )
    train_half, _ = model.apply(
      variables, images[:4], train=True, mutable=["batch_stats"]
    )
    stem = models.Conv(8, (3, 3), (2, 2)).apply(
      {"params": variables["params"]["stem_conv"]}, images
    )
    return (
      full,
      half,
      train["feats"],
      train_half["feats"],
      updates["batch_stats"],
      stem,
    )

  full, half, train, train_half, stats, stem = run(variables, images)
  # Eval: each example's features do not depend on the rest of the batch.
  np.testing.assert_allclose(full[:4], half, rtol=1e-5, atol=1e-5)
  # Train: they do, and running statistics move by (1 - momentum) = 0.1.
  assert not np.allclose(train[:4], train_half, atol=1e-3)
  old = variables["batch_stats"]["stem_bn"]["mean"]
  np.testing.assert_allclose(
    stats["stem_bn"]["mean"],
    0.9 * old + 0.1 * stem.mean((0, 1, 2)),
    rtol=1e-4,
    atol=1e-5,
  )
  with pytest.raises(
    flax.errors.ModifyScopeVariableError
  ):  # batch_stats are immutable unless asked
    jax.eval_shape(lambda v: model.apply(v, images, train=True), variables)


@pytest.mark.parametrize(
  "name,size,dim,millions",
  [
    ("resnet18_cifar", 32, 512, 11.17),
    ("resnet50_cifar", 32, 2048, 23.50),
    ("resnet50", 64, 2048, 23.51),
  ],
)
def test_big_resnets_shapes_and_param_counts(name, size, dim, millions):
  # Published: torchvision resnet50 25.56M minus the 2.05M fc; CIFAR R18.
  model = models.backbone(name)
  variables = _abstract_init(model, (2, size, size, 3), train=False)
  out = jax.eval_shape(
    lambda v: model.apply(v, _images(2, size), train=False), variables
  )
  assert out["feats"].shape == (2, dim)
  assert model.num_features == dim
  count = models.num_params(variables["params"]) / 1e6
  assert abs(count - millions) / millions < 0.02, count


# --- ViTs ------------------------------------------------------------------


def test_vit_outputs_and_keep_idx():
  model = models.ViT(width=16, depth=2, num_heads=2, patch_size=4)
  images = _images(n=2, size=16)
  variables = _init(model, images, train=False)
  perm = jnp.stack([jnp.arange(16)[::-1], jnp.roll(jnp.arange(16), 3)])
  keep = perm[:, :5]
  keep_rows = jnp.tile(jnp.arange(4, 9)[None], (2, 1))  # skips grid row 0
  other = images.at[:, :4].set(0.0)  # changes grid row 0 (tokens 0..3) only
  ids_keep, _, _ = mae.random_masking(jax.random.key(3), 2, 16, ratio=0.75)

  @jax.jit
  def run(variables, images, other):
    apply = lambda x, idx=None: model.apply(
      variables, x, train=False, keep_idx=idx
    )
    return (
      apply(images),
      apply(images, perm),
      apply(images, keep),
      apply(images, keep_rows),
      apply(other, keep_rows),
      apply(images, ids_keep),
    )

  out, permuted, subset, rows, rows_other, masked = run(
    variables, images, other
  )
  chex.assert_shape(out["feats"], (2, 16))
  chex.assert_shape(out["tokens"], (2, 16, 16))
  # All tokens permuted: same cls features, permuted tokens (position
  # embeddings are added before the selection, as in MAE).
  np.testing.assert_allclose(permuted["feats"], out["feats"], atol=1e-5)
  np.testing.assert_allclose(
    permuted["tokens"],
    jnp.take_along_axis(out["tokens"], perm[..., None], axis=1),
    atol=1e-5,
  )
  # A subset: only those tokens come out, and the cls token sees fewer.
  chex.assert_shape(subset["tokens"], (2, 5, 16))
  assert not np.allclose(subset["feats"], out["feats"], atol=1e-3)
  # Dropped patches do not matter.
  np.testing.assert_allclose(rows["feats"], rows_other["feats"], atol=1e-5)
  # MAE's masking output plugs in directly.
  chex.assert_shape(masked["tokens"], (2, 4, 16))
  with pytest.raises(ValueError, match="keep_idx must be"):
    jax.eval_shape(
      lambda v: model.apply(v, images, train=False, keep_idx=keep[0]), variables
    )


def test_vit_sincos_is_fixed_and_matches_mae_values():
  model = models.ViT(
    width=16, depth=1, num_heads=2, patch_size=4, pos_embed="sincos"
  )
  variables = _abstract_init(model, (1, 16, 16, 3), train=False)
  assert "pos_embed" not in variables["params"]
  table = vit.sincos_pos_embed(2, 3, 8)
  chex.assert_shape(table, (6, 8))
  # Token (row 1, col 2): columns use channels 0..3, rows 4..7, as in MAE's
  # get_2d_sincos_pos_embed (omega_k = 1 / 10000^(k / (dim / 4))).
  omega = 1.0 / 10000 ** (np.arange(2) / 2)
  np.testing.assert_allclose(
    table[5],
    np.concatenate(
      [np.sin(2 * omega), np.cos(2 * omega), np.sin(omega), np.cos(omega)]
    ),
    rtol=1e-6,
  )


def test_vit_mean_pool_is_the_mean_of_the_patch_tokens():
  images = _images(n=2, size=16)
  cls_model = models.backbone("vit_tiny", patch_size=4)
  mean_model = models.backbone("vit_tiny", patch_size=4, pool="mean")
  variables = _init(cls_model, images, train=False)  # the same parameters
  by_cls = jax.jit(lambda v: cls_model.apply(v, images, train=False))(variables)
  by_mean = jax.jit(lambda v: mean_model.apply(v, images, train=False))(
    variables
  )
  np.testing.assert_allclose(by_mean["tokens"], by_cls["tokens"])
  np.testing.assert_allclose(
    by_mean["feats"],
    np.asarray(by_cls["tokens"]).mean(axis=1),
    rtol=1e-5,
    atol=1e-6,
  )
  assert not np.allclose(by_mean["feats"], by_cls["feats"], atol=1e-2)
  with pytest.raises(ValueError, match="pool='max'"):
    _abstract_init(
      models.ViT(16, 1, 2, patch_size=4, pool="max"),
      (1, 16, 16, 3),
      train=False,
    )
  config = configs_lib.base_config()
  config.model.vit_pool = "gap"
  with pytest.raises(ValueError, match="model.vit_pool='gap'"):
    configs_lib.validate(config)


def test_vit_rejects_bad_patch_size():
  model = models.backbone("vit_tiny")
  with pytest.raises(ValueError, match="divisible into patches of size 16"):
    _abstract_init(model, (1, 40, 40, 3), train=False)


@pytest.mark.parametrize(
  "name,dim,millions",
  [
    ("vit_tiny", 192, 5.52),
    ("vit_small", 384, 21.67),
    ("vit_base", 768, 85.80),
  ],
)
def test_vit_shapes_and_param_counts(name, dim, millions):
  # Published counts (timm, 224 / patch 16) without the 1000-class head.
  model = models.backbone(name, patch_size=16)
  variables = _abstract_init(model, (2, 224, 224, 3), train=False)
  count = models.num_params(variables["params"]) / 1e6
  assert abs(count - millions) / millions < 0.02, count
  # patch_size is an argument.
  small = models.backbone(name, patch_size=8)
  assert small.patch_size == 8 and small.num_features == dim
  variables = _abstract_init(small, (2, 32, 32, 3), train=False)
  out = jax.eval_shape(
    lambda v: small.apply(v, _images(2), train=False), variables
  )
  assert out["feats"].shape == (2, dim)
  assert out["tokens"].shape == (2, 16, dim)


# --- Registry --------------------------------------------------------------


def test_registry():
  with pytest.raises(ValueError) as e:
    models.backbone("resnet19")
  msg = str(e.value)
  assert "backbone 'resnet19' is not one of" in msg
  assert "tiny_resnet" in msg and "vit_small" in msg
  for name in models.BACKBONES:
    assert isinstance(models.backbone(name), nn.Module)
  # The config -> model place names the config key.
  config = configs_lib.base_config()
  config.model.name = "resnet19"
  with pytest.raises(ValueError, match="config.model.name='resnet19'"):
    common.backbone(config)


def test_backbone_kind_is_a_class_attribute():
  assert models.ResNet.kind == "conv" and models.ViT.kind == "vit"
  for name in models.BACKBONES:
    module = models.backbone(name)
    assert module.kind == ("vit" if isinstance(module, models.ViT) else "conv")
  # A class attribute, not a field: not settable per instance.
  assert "kind" not in {f.name for f in dataclasses.fields(models.ViT)}
  assert models.num_params({"a": jnp.ones((2, 3)), "b": [jnp.ones(4)]}) == 10


# --- Heads -----------------------------------------------------------------


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_projector_from_config(layers):
  head = models.projector(num_layers=layers, hidden_dim=32, out_dim=16)
  variables = _abstract_init(head, (4, 8), train=False)
  denses = [k for k in variables["params"] if k.startswith("dense")]
  assert len(denses) == layers
  assert variables["params"][f"dense{layers - 1}"]["kernel"].shape[-1] == 16
  z, _ = jax.eval_shape(
    lambda v: head.apply(
      v, jnp.ones((4, 8)), train=True, mutable=["batch_stats"]
    ),
    variables,
  )
  assert z.shape == (4, 16)


@pytest.mark.parametrize("use_bn", [True, False])
def test_projector_bn_choice(use_bn):
  # use_bn=False: solo-learn's SimCLR / SupCon projector, Linear (with
  # bias)-ReLU-Linear, no BatchNorm and no batch statistics.
  head = models.projector(
    num_layers=2, hidden_dim=32, out_dim=16, use_bn=use_bn
  )
  variables = _abstract_init(head, (4, 8), train=False)
  params = variables["params"]
  assert any(k.startswith("bn") for k in params) == use_bn
  assert ("bias" in params["dense0"]) == (not use_bn)
  assert bool(variables.get("batch_stats")) == use_bn
  config = configs_lib.base_config()
  assert config.model.proj_bn  # default: today's Linear-BN-ReLU-Linear
  config.model.proj_bn = use_bn
  assert common.projector(config).use_bn == use_bn


def test_projector_none_and_negative():
  assert models.projector(num_layers=0, hidden_dim=8, out_dim=4) is None
  with pytest.raises(ValueError, match="num_layers=-1"):
    models.projector(num_layers=-1, hidden_dim=8, out_dim=4)
  config = configs_lib.base_config()
  config.model.proj_layers = -1
  with pytest.raises(ValueError, match="config.model.proj_layers=-1"):
    common.projector(config)


def test_encoder_and_mlp_last_bn():
  # The default config path: tiny_resnet + projector, one real train step.
  model = models.Encoder(
    models.backbone("tiny_resnet"),
    models.projector(num_layers=2, hidden_dim=32, out_dim=16),
  )
  head = models.MLP(hidden_dims=(16,), out_dim=8, last_bn=True)
  images = _images(n=4)
  x = jax.random.normal(jax.random.key(0), (32, 4)) * 3 + 1
  variables = _init(model, images, train=False)
  head_variables = _init(head, x, train=False)
  assert "bn1" not in head_variables["params"]  # no affine parameters

  @jax.jit
  def run(variables, head_variables):
    return (
      model.apply(variables, images, train=True, mutable=["batch_stats"]),
      head.apply(head_variables, x, train=True, mutable=["batch_stats"])[0],
    )

  (out, updates), z = run(variables, head_variables)
  chex.assert_shape(out["feats"], (4, 128))
  chex.assert_shape(out["z"], (4, 16))
  chex.assert_tree_all_finite(out)
  assert set(updates["batch_stats"]) == {"backbone", "projector"}
  np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(z.std(0), 1.0, atol=1e-2)
  bare = models.Encoder(models.ResNet(stage_sizes=(1,), widths=(4,)))
  variables = _abstract_init(bare, images.shape, train=False)
  out = jax.eval_shape(lambda v: bare.apply(v, images, train=False), variables)
  assert set(out) == {"feats"}
