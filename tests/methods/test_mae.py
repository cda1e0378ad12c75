"""MAE-specific tests: masking, what the encoder sees, the loss against a
numpy reference, features, the reconstruction figure and config checks.

One small config (ViT-Ti, patch 8 on 32x32: 16 patches, 4 visible) keeps the
compilations few and fast.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib, methods
from jaxssl.methods import mae
from jaxssl.models import mae_decoder, patches, vit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
N, SIZE, PATCH = 4, 32, 8
L = (SIZE // PATCH) ** 2


def _config(**method):
  config = configs_lib.load(
    os.path.join(ROOT, "configs", "mae_quick.py"), "smoke"
  )
  config.model.patch_size = PATCH
  config.method.update(method)
  return config


def _images(seed=0):
  # Offset so that no pixel equals the data mean by accident.
  return 0.7 + jnp.abs(
    jax.random.normal(jax.random.key(seed), (N, SIZE, SIZE, 3))
  )


@functools.cache
def _setup():
  config = _config()
  method = methods.build(config)
  batch = {"views": _images()[:, None], "label": jnp.zeros(N, jnp.int32)}
  params, extra = jax.jit(method.init)(jax.random.key(0), batch)
  return config, method, params, extra


def _loss_fn(method):
  return jax.jit(
    lambda p, e, images, rng: method.loss(
      p, e, {"views": images[:, None]}, rng, 0
    )
  )


def _norm_pix_numpy(target):
  mu = target.mean(-1, keepdims=True)
  var = target.var(-1, keepdims=True, ddof=1)
  return (target - mu) / np.sqrt(var + 1e-6)


def test_registered_and_shapes():
  config, method, params, extra = _setup()
  assert methods.METHODS["mae"] is not None and method.name == "mae"
  assert set(params) == {"encoder", "decoder"}
  assert extra == {}
  # Fixed sin-cos position embeddings everywhere: no position parameter.
  assert "pos_embed" not in params["encoder"]
  assert params["decoder"]["pred"]["kernel"].shape == (
    config.method.decoder_dim,
    PATCH * PATCH * 3,
  )


def test_loss_matches_numpy_reference_on_masked_patches_only():
  config, method, params, extra = _setup()
  images, rng = _images(1), jax.random.key(5)
  value, (new_extra, metrics) = _loss_fn(method)(params, extra, images, rng)
  assert new_extra == {}
  # Independent forward pass from the same step key.
  ids_keep, is_masked, ids_restore = mae.random_masking(
    rng, N, L, ratio=config.method.mask_ratio
  )
  encoder = vit.vit_tiny(patch_size=PATCH, pos_embed="sincos")
  m = config.method
  decoder = mae_decoder.MAEDecoder(
    m.decoder_dim, m.decoder_depth, m.decoder_heads, PATCH * PATCH * 3
  )

  @jax.jit
  def predict(params, images, ids_keep, ids_restore):
    enc = encoder.apply(
      {"params": params["encoder"]}, images, train=True, keep_idx=ids_keep
    )
    return decoder.apply(
      {"params": params["decoder"]}, enc["feats"], enc["tokens"], ids_restore
    )

  pred = np.asarray(predict(params, images, ids_keep, ids_restore))
  target = _norm_pix_numpy(np.asarray(patches.patchify(images, PATCH)))
  hidden = np.asarray(is_masked)
  per_patch = ((pred - target) ** 2).mean(-1)
  np.testing.assert_allclose(value, per_patch[hidden].mean(), rtol=1e-4)
  np.testing.assert_allclose(
    metrics["visible_loss"], per_patch[~hidden].mean(), rtol=1e-4
  )
  # Predictions on visible patches are not scored: garbage there changes
  # nothing in the reference the method matches.
  garbage = np.where(hidden[..., None], pred, 1e3)
  np.testing.assert_allclose(
    value, ((garbage - target) ** 2).mean(-1)[hidden].mean(), rtol=1e-4
  )
  assert float(metrics["loss"]) == float(value)
  assert 0.01 < float(metrics["z_std"]) < 1.0


def test_encoder_sees_only_visible_patches():
  """Changing the pixels of hidden patches changes the loss (targets) but
  not the predictions, so the visible-patch error is bit-for-bit equal."""
  config, method, params, extra = _setup()
  images, rng = _images(2), jax.random.key(7)
  _, is_masked, _ = mae.random_masking(
    rng, N, L, ratio=config.method.mask_ratio
  )
  hidden = patches.unpatchify(
    jnp.repeat(is_masked[..., None], PATCH * PATCH * 3, -1).astype(jnp.float32),
    PATCH,
    3,
  )
  noisy = images + hidden * jax.random.normal(jax.random.key(8), images.shape)
  fn = _loss_fn(method)
  a, (_, ma) = fn(params, extra, images, rng)
  b, (_, mb) = fn(params, extra, noisy, rng)
  assert float(ma["visible_loss"]) == float(mb["visible_loss"])
  assert float(ma["z_std"]) == float(mb["z_std"])
  assert abs(float(a) - float(b)) > 1e-3
  # Changing one visible patch does reach the predictions.
  visible = 1.0 - hidden
  c, (_, mc) = fn(params, extra, images + visible, rng)
  assert float(mc["visible_loss"]) != float(ma["visible_loss"])
  del c


def test_gradients_reach_encoder_and_decoder():
  _, method, params, extra = _setup()
  grads = jax.jit(
    jax.grad(
      lambda p: method.loss(
        p, extra, {"views": _images(3)[:, None]}, jax.random.key(0), 0
      )[0]
    )
  )(params)
  for part in ("encoder", "decoder"):
    norm = float(
      jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads[part])))
    )
    assert np.isfinite(norm) and norm > 0, part
  assert float(jnp.abs(grads["encoder"]["cls_token"]).sum()) > 0
  assert float(jnp.abs(grads["decoder"]["mask_token"]).sum()) > 0


def test_features_use_every_patch_without_masking():
  _, method, params, extra = _setup()
  images = _images(4)
  feats = jax.jit(method.features)
  f = feats(params, extra, {"image": images})
  assert f.shape == (N, 192)
  encoder = vit.vit_tiny(patch_size=PATCH, pos_embed="sincos")
  ref = jax.jit(lambda p, x: encoder.apply({"params": p}, x, train=False))(
    params["encoder"], images
  )["feats"]
  np.testing.assert_allclose(f, ref, rtol=1e-5, atol=1e-5)
  # Any single patch changes the features (nothing is masked).
  for r, c in ((0, 0), (3, 3)):
    changed = images.at[
      :, r * PATCH : (r + 1) * PATCH, c * PATCH : (c + 1) * PATCH
    ].add(1.0)
    assert not np.allclose(feats(params, extra, {"image": changed}), f)


def test_mean_pool_decodes_the_cls_token_and_pools_only_features():
  # Official MAE decodes the full encoder sequence, cls token included,
  # whatever the pooling; `model.vit_pool` only chooses the evaluation
  # features (`global_pool` of the fine-tuning / linear probe).
  _, cls_method, params, extra = _setup()
  config = _config()
  config.model.vit_pool = "mean"
  mean_method = methods.build(config)
  images, rng = _images(6), jax.random.key(7)
  cls_loss, _ = _loss_fn(cls_method)(params, extra, images, rng)
  mean_loss, _ = _loss_fn(mean_method)(params, extra, images, rng)
  np.testing.assert_allclose(mean_loss, cls_loss, rtol=1e-6)
  figures = jax.jit(mean_method.figures)
  np.testing.assert_allclose(
    figures(params, extra, {"image": images}, rng)["reconstruction"],
    jax.jit(cls_method.figures)(params, extra, {"image": images}, rng)[
      "reconstruction"
    ],
    rtol=1e-6,
  )
  encoder = vit.vit_tiny(patch_size=PATCH, pos_embed="sincos")
  tokens = encoder.apply({"params": params["encoder"]}, images, train=False)[
    "tokens"
  ]
  feats = jax.jit(mean_method.features)(params, extra, {"image": images})
  np.testing.assert_allclose(feats, tokens.mean(1), rtol=1e-5, atol=1e-5)


def test_reconstruction_figure_masks_per_example():
  config, method, params, extra = _setup()
  images = _images(5)
  out = jax.jit(method.figures)(
    params, extra, {"image": images}, jax.random.key(9)
  )
  assert set(out) == {"reconstruction"}
  grid = np.asarray(out["reconstruction"])
  side = SIZE + 1
  assert grid.shape == (3 * side + 1, N * side + 1, 3)
  assert grid.dtype == np.float32
  assert grid.min() >= 0.0 and grid.max() <= 1.0

  mean = np.asarray(config.data.mean)
  std = np.asarray(config.data.std)
  shown = np.clip(np.asarray(images) * std + mean, 0, 1)

  def cell(row, i):
    return grid[
      1 + row * side : (row + 1) * side, 1 + i * side : (i + 1) * side
    ]

  l_keep = round(L * (1 - config.method.mask_ratio))
  masks = []
  for i in range(N):
    np.testing.assert_allclose(cell(0, i), shown[i], atol=1e-6)
    masked = np.asarray(patches.patchify(cell(1, i)[None], PATCH))[0]
    orig = np.asarray(patches.patchify(shown[i][None], PATCH))[0]
    recon = np.asarray(patches.patchify(cell(2, i)[None], PATCH))[0]
    # Hidden patches are shown as the data mean colour.
    hidden = np.all(np.isclose(masked, np.tile(mean, PATCH * PATCH)), -1)
    assert hidden.sum() == L - l_keep, (i, hidden.sum())
    np.testing.assert_allclose(masked[~hidden], orig[~hidden], atol=1e-6)
    # Visible patches pasted back into the reconstruction.
    np.testing.assert_allclose(recon[~hidden], orig[~hidden], atol=1e-6)
    masks.append(hidden)
  # Per-example masks.
  assert len({m.tobytes() for m in masks}) == N


def test_figure_without_norm_pix_and_fewer_than_eight_images():
  config = _config(norm_pix=False)
  method = methods.build(config)
  _, _, params, extra = _setup()
  figures = jax.jit(method.figures)
  out = figures(params, extra, {"image": _images()[:2]}, jax.random.key(0))
  assert out["reconstruction"].shape == (
    3 * (SIZE + 1) + 1,
    2 * (SIZE + 1) + 1,
    3,
  )
  # More than 8 images: only the first 8 are drawn.
  many = jnp.concatenate([_images()] * 3)
  out = figures(params, extra, {"image": many}, jax.random.key(0))
  assert out["reconstruction"].shape[1] == 8 * (SIZE + 1) + 1


@pytest.mark.parametrize(
  "key, value, match",
  [
    ("method.mask_ratio", 1.0, "mask_ratio"),
    ("method.mask_ratio", -0.1, "mask_ratio"),
    ("method.mask_ratio", 0.99, "mask_ratio"),
    ("method.decoder_dim", 30, "decoder_dim"),
    ("model.name", "tiny_resnet", "model.name"),
    ("model.patch_size", 5, "patch_size"),
    ("data.image_size", 36, "image_size"),
  ],
)
def test_bad_config_raises_naming_the_key(key, value, match):
  config = _config()
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(ValueError, match=match):
    methods.build(config)


def test_two_views_rejected():
  config = _config()
  config.data.views.views.num_views = 2
  with pytest.raises(ValueError, match="num_views=1"):
    methods.build(config)


def test_paper_configs_load_and_build():
  for name, size, patch in (("mae_cifar10", 32, 4), ("mae_imagenet", 224, 16)):
    config = configs_lib.load(os.path.join(ROOT, "configs", f"{name}.py"))
    assert config.method.name == "mae"
    assert config.optim.name == "adamw" and config.optim.b2 == 0.95
    assert config.data.views.views.num_views == 1
    assert config.data.views.views.size == size
    assert config.model.patch_size == patch
    methods.build(config)
