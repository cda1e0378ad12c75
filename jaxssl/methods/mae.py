"""MAE: mask 75% of the patches, encode the rest, reconstruct the pixels.

One view per image. Each step draws a per-example random mask from the step
key (`random_masking` below: argsort of uniform noise, keeping
`int(l * (1 - mask_ratio))` patches); the ViT encoder runs on the visible
patches only (`keep_idx`), the lightweight decoder
(`jaxssl.models.mae_decoder.MAEDecoder`) fills in mask tokens, unshuffles
and predicts the pixels of every patch, and the loss
(`jaxssl.losses.mae`) is the per-patch mean squared error on the masked
patches, against per-patch normalised targets when `method.norm_pix` (the
keyword of `losses.mae`). Targets are the images as they reach the method,
i.e. normalised by `config.data.mean/std` (the official code reconstructs
the ImageNet-normalised tensor too).

As in the official code, both the encoder and the decoder use fixed 2-D
sin-cos position embeddings (so the ViT is built with `pos_embed="sincos"`
whatever `jaxssl.models.backbone` defaults to) and the cls token goes
through both. There is no BatchNorm, so `extra` is empty.

Features for kNN / linear evaluation: the encoder on all patches, no
masking, returning the cls token after the final LayerNorm (the official
linear probe's default, `global_pool=False`; it then adds an affine-free
BatchNorm before the linear classifier), or with `model.vit_pool="mean"`
the mean of the patch tokens (the official fine-tuning's `global_pool`).
The pooling only affects these features: in training the decoder always
gets the full encoder sequence, its cls token included, as the official
`forward_decoder`.

Metrics: `loss`; `visible_loss`, the same error on the visible patches
(not trained on; how well the decoder copies what the encoder saw);
`z_std`, the per-dimension std over the batch of the L2-normalised mean of
the encoder's visible tokens (the collapse diagnostic every method logs).

References:
  He et al., Masked Autoencoders Are Scalable Vision Learners, CVPR 2022,
  arXiv:2111.06377; official code facebookresearch/mae (`models_mae.py`,
  `main_pretrain.py`, `demo/mae_visualize.ipynb`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import losses, models
from jaxssl.methods import base, common
from jaxssl.models import mae_decoder, patches

# Images per reconstruction figure.
FIGURE_IMAGES = 8


def default_config() -> ml_collections.ConfigDict:
  """MAE's `config.method` keys (but `name`) and their defaults."""
  m = ml_collections.ConfigDict()
  m.mask_ratio = 0.75  # fraction of the patches hidden, in [0, 1)
  m.norm_pix = True  # losses.mae: per-patch normalised pixel targets
  # The decoder (models.mae_decoder.MAEDecoder).
  m.decoder_dim = 512  # token width
  m.decoder_depth = 8  # transformer blocks
  m.decoder_heads = 16  # attention heads
  return m


def check_config(config) -> None:
  """ValueError naming the key: one group of one view, a ViT whose patches
  tile the images, mask ratio and decoder in range."""
  _check(config, common.single_group(config, num_views=1, method="mae"))


def smoke(m) -> None:
  """Shrinks MAE's keys of `config.method` (the decoder) in place."""
  m.decoder_dim = min(m.decoder_dim, 32)
  m.decoder_depth = min(m.decoder_depth, 1)
  m.decoder_heads = min(m.decoder_heads, 2)


def random_masking(
  rng: jax.Array,
  n: int,
  l: int,
  *,
  ratio: float = 0.75,
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """MAE's per-sample random masking by argsort of uniform noise.

  Each row keeps `int(l * (1 - ratio))` tokens chosen uniformly at random.

  Args:
    rng: a PRNG key.
    n: number of samples.
    l: tokens per sample.
    ratio: fraction of tokens to mask, in [0, 1).

  Returns:
    ids_keep: [n, l_keep] int32 indices of the visible tokens
      (gather them with `jnp.take_along_axis(x, ids_keep[..., None], 1)`).
    is_masked: [n, l] bool, True where the token is hidden.
    ids_restore: [n, l] int32 permutation that puts
      `concat([kept, mask_tokens])` back in the original order.

  Raises:
    ValueError: if `ratio` is outside [0, 1).

  References:
    He et al., Masked Autoencoders Are Scalable Vision Learners,
    arXiv:2111.06377.

  Example:
    >>> import jax
    >>> from jaxssl.methods import mae
    >>> keep, is_masked, restore = mae.random_masking(
    ...     jax.random.key(0), 2, 8, ratio=0.75)
    >>> keep.shape, int(is_masked.sum())
    ((2, 2), 12)
  """
  if not 0.0 <= ratio < 1.0:
    raise ValueError(f"`ratio` must be in [0, 1), got {ratio}.")
  len_keep = int(l * (1 - ratio))
  noise = jax.random.uniform(rng, (n, l))
  ids_shuffle = jnp.argsort(noise, axis=1).astype(jnp.int32)
  ids_restore = jnp.argsort(ids_shuffle, axis=1).astype(jnp.int32)
  ids_keep = ids_shuffle[:, :len_keep]
  is_masked = ids_restore >= len_keep
  return ids_keep, is_masked, ids_restore


def _check(config, group: str) -> tuple[int, int]:
  """Raises ValueError naming the config key; returns (patch, l_keep)."""
  m, model = config.method, config.model
  if common.backbone(config).kind != "vit":
    vits = [k for k in models.BACKBONES if models.backbone(k).kind == "vit"]
    raise ValueError(
      f"method 'mae' needs a ViT: config.model.name="
      f"{model.name!r} is not one of {sorted(vits)}"
    )
  if not 0.0 <= m.mask_ratio < 1.0:
    raise ValueError(
      f"config.method.mask_ratio={m.mask_ratio!r} must be in [0, 1)"
    )
  p = model.patch_size
  size = config.data.views[group].size
  for key, side in (
    (f"data.views.{group}.size", size),
    ("data.image_size", config.data.image_size),
  ):
    if p < 1 or side % p:
      raise ValueError(
        f"config.{key}={side} is not divisible by config.model.patch_size={p}"
      )
  l_keep = int((size // p) ** 2 * (1 - m.mask_ratio))
  if l_keep < 1:
    raise ValueError(
      f"config.method.mask_ratio={m.mask_ratio} leaves no "
      f"visible patch of the {(size // p) ** 2}"
    )
  if m.decoder_dim % 4 or m.decoder_dim % m.decoder_heads:
    raise ValueError(
      f"config.method.decoder_dim={m.decoder_dim} must be a "
      "multiple of 4 (sin-cos position embedding) and of "
      f"config.method.decoder_heads={m.decoder_heads}"
    )
  if m.decoder_depth < 0:
    raise ValueError(
      f"config.method.decoder_depth={m.decoder_depth} must be >= 0"
    )
  return p, l_keep


def _grid(images: jax.Array, p: int) -> tuple[int, int]:
  return images.shape[1] // p, images.shape[2] // p


def build(config) -> base.Method:
  """MAE from `config.model` (a ViT) and `config.method` (mask_ratio,
  norm_pix, decoder_dim, decoder_depth, decoder_heads).

  Reads the single view group of `config.data.views`, which must hold one
  view (batch entry `[n, 1, h, w, 3]`).
  """
  group = common.single_group(config, num_views=1, method="mae")
  p, _ = _check(config, group)
  m = config.method
  ratio, norm_pix = float(m.mask_ratio), bool(m.norm_pix)
  # The same params either way (pooling has none): `encoder` gives the
  # evaluation features (`model.vit_pool`), `cls_encoder` the cls token the
  # decoder reads in training, whatever the pooling.
  encoder = common.backbone(config, pos_embed="sincos")
  cls_encoder = common.backbone(config, pos_embed="sincos", pool="cls")
  decoder = mae_decoder.MAEDecoder(
    width=m.decoder_dim,
    depth=m.decoder_depth,
    num_heads=m.decoder_heads,
    patch_dim=p * p * 3,
    remat=bool(config.model.remat),
  )
  mean = jnp.asarray(config.data.mean, jnp.float32)
  std = jnp.asarray(config.data.std, jnp.float32)

  def forward(params, images, rng):
    """Masks, encodes, decodes: (pred [n, l, p*p*3], enc, is_masked)."""
    grid = _grid(images, p)
    ids_keep, is_masked, ids_restore = random_masking(
      rng, images.shape[0], grid[0] * grid[1], ratio=ratio
    )
    enc = cls_encoder.apply(
      {"params": params["encoder"]}, images, train=True, keep_idx=ids_keep
    )
    pred = decoder.apply(
      {"params": params["decoder"]},
      enc["feats"],
      enc["tokens"],
      ids_restore,
      grid,
    )
    return pred, enc, is_masked

  def init(rng, batch):
    images = batch[group][:2, 0]
    k_enc, k_dec, k_mask = jax.random.split(rng, 3)
    grid = _grid(images, p)
    ids_keep, _, ids_restore = random_masking(
      k_mask, 2, grid[0] * grid[1], ratio=ratio
    )
    enc_vars = cls_encoder.init(k_enc, images, train=False, keep_idx=ids_keep)
    enc = cls_encoder.apply(enc_vars, images, train=False, keep_idx=ids_keep)
    dec_vars = decoder.init(
      k_dec, enc["feats"], enc["tokens"], ids_restore, grid
    )
    return {"encoder": enc_vars["params"], "decoder": dec_vars["params"]}, {}

  def loss(params, extra, batch, rng, step):
    del step  # No schedule inside the method (lr is the optimizer's).
    images = batch[group][:, 0]
    pred, enc, is_masked = forward(params, images, rng)
    target = patches.patchify(images, p)
    value = losses.mae(pred, target, is_masked, norm_pix=norm_pix)
    pooled = jnp.mean(enc["tokens"], axis=1)
    metrics = {
      "loss": value,
      "visible_loss": losses.mae(
        jax.lax.stop_gradient(pred), target, ~is_masked, norm_pix=norm_pix
      ),
      "z_std": common.embedding_metrics(pooled, pooled)["z_std"],
    }
    return value, (extra, metrics)

  def features(params, extra, batch):
    images = batch["image"]
    del extra
    return encoder.apply({"params": params["encoder"]}, images, train=False)[
      "feats"
    ]

  def figures(params, extra, batch, rng):
    images = batch["image"]
    """{"reconstruction": [3 (h + 1) + 1, k (w + 1) + 1, 3] in [0, 1]}.

    Rows: the first k <= 8 images; the images with their masked patches
    set to 0 (the data mean colour once un-normalised, as the official
    demo); the reconstruction with the visible patches pasted back. With
    `norm_pix` the predictions are per-patch normalised, so each
    predicted patch is mapped back with the true patch's mean and std
    before display: the picture shows predicted structure, not predicted
    patch colour.
    """
    del extra
    images = jnp.asarray(images[:FIGURE_IMAGES], jnp.float32)
    pred, _, is_masked = forward(params, images, rng)
    target = patches.patchify(images, p)
    if norm_pix:
      mu = jnp.mean(target, axis=-1, keepdims=True)
      var = jnp.var(target, axis=-1, keepdims=True, ddof=1)
      pred = pred * jnp.sqrt(var + 1e-6) + mu
    hidden = is_masked[..., None]
    masked = jnp.where(hidden, 0.0, target)
    pasted = jnp.where(hidden, pred, target)
    rows = [images] + [patches.unpatchify(x, p, 3) for x in (masked, pasted)]
    rows = jnp.stack([jnp.clip(r * std + mean, 0.0, 1.0) for r in rows])
    # 1-pixel white separators between and around the images.
    rows = jnp.pad(
      rows, ((0, 0), (0, 0), (0, 1), (0, 1), (0, 0)), constant_values=1.0
    )
    r, k, h, w, _ = rows.shape
    grid = rows.transpose(0, 2, 1, 3, 4).reshape(r * h, k * w, 3)
    grid = jnp.pad(grid, ((1, 0), (1, 0), (0, 0)), constant_values=1.0)
    return {"reconstruction": grid}

  # Jitted here: the loop calls figures eagerly, op by op otherwise.
  return base.Method(
    name="mae",
    init=init,
    loss=loss,
    features=features,
    figures=jax.jit(figures),
  )


METHOD = base.MethodDef(
  name="mae",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
)
