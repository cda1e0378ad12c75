"""Denoising autoencoder: reconstruct the clean image from a corrupted one.

One image per example (data kind `images`). Each step corrupts every image
of the batch on the device and trains the backbone (the encoder) and a
decoder to reconstruct the clean image. Vincent et al.'s masking noise
(`method.corruption="mask"`): each pixel (all its channels) is set to 0,
the data mean colour once normalised, with probability
`method.noise_level`; or additive Gaussian noise of std `method.noise_level`
in normalised units (`"gaussian"`). The decoder
(`models.pretext_heads.UpDecoder`) reads only the backbone's pooled feature
vector (projected to a small map, then `method.decoder_stages` doublings
to the image side, `method.decoder_dim` channels halving at each): the
code is the representation the evaluation reads, so it must hold what the
image looks like, as the hidden layer of Vincent et al.'s one-layer DAE.
The loss is the mean squared error over all pixels of the normalised clean
image (the paper's squared-error variant for real-valued inputs).

Features for evaluation: the backbone's pooled features of the clean image,
in inference mode. Metrics: `loss`, `corrupted_loss` (the error on the
corrupted pixels only, with masking noise), `z_std` of the features.

References:
  Vincent, Larochelle, Bengio & Manzagol, Extracting and Composing Robust
  Features with Denoising Autoencoders, ICML 2008 (no arXiv id; JMLR 2010
  version: Vincent et al., Stacked Denoising Autoencoders).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl.methods import base, common
from jaxssl.methods import pretext_common as pc
from jaxssl.models import pretext_heads

CORRUPTIONS = ("mask", "gaussian")


def default_config() -> ml_collections.ConfigDict:
  """The denoising autoencoder's `config.method` keys and defaults."""
  return ml_collections.ConfigDict(
    {
      "corruption": "mask",  # mask | gaussian
      "noise_level": 0.25,  # mask: pixel drop rate; gaussian: std
      "decoder_dim": 256,  # channels of the first upsampling stage
      # Doublings up to data.image_size, from a start side of
      # image_size / 2^decoder_stages (32 pixels: 4x4).
      "decoder_stages": 3,
    }
  )


def check_config(config) -> None:
  """Raises ValueError naming the first bad `config.method` key."""
  m = config.method
  if m.corruption not in CORRUPTIONS:
    pc.fail("corruption", m.corruption, f"must be one of {list(CORRUPTIONS)}")
  if m.corruption == "mask" and not 0.0 <= m.noise_level < 1.0:
    pc.fail("noise_level", m.noise_level, "the drop rate must be in [0, 1)")
  if m.noise_level < 0:
    pc.fail("noise_level", m.noise_level, "must be >= 0")
  if m.decoder_dim < 1:
    pc.fail("decoder_dim", m.decoder_dim, "must be >= 1")
  if m.decoder_stages < 0 or config.data.image_size % 2**m.decoder_stages:
    pc.fail(
      "decoder_stages",
      m.decoder_stages,
      f"2^decoder_stages must divide data.image_size={config.data.image_size}",
    )


def smoke(m) -> None:
  m.decoder_dim = min(m.decoder_dim, 16)


def _widths(m) -> tuple[int, ...]:
  return tuple(max(m.decoder_dim // 2**i, 8) for i in range(m.decoder_stages))


def corrupt(rng, images, *, corruption: str, noise_level: float):
  """(corrupted images, is_corrupted [n, h, w] bool) of normalised images."""
  if corruption == "mask":
    is_corrupted = jax.random.bernoulli(rng, noise_level, images.shape[:3])
    return jnp.where(is_corrupted[..., None], 0.0, images), is_corrupted
  noise = jax.random.normal(rng, images.shape, images.dtype)
  return images + noise_level * noise, jnp.ones(images.shape[:3], bool)


def build(config) -> base.Method:
  """The denoising autoencoder from `config.model` and `config.method`."""
  check_config(config)
  m = config.method
  backbone = common.backbone(config)
  decoder = pretext_heads.UpDecoder(
    _widths(m), 3, start_side=config.data.image_size // 2**m.decoder_stages
  )
  kind, level = str(m.corruption), float(m.noise_level)

  def init(rng, batch):
    k_bb, k_dec = jax.random.split(rng)
    images = batch["image"][:2]
    bb_vars = backbone.init(k_bb, images, train=False)
    feats = backbone.apply(bb_vars, images, train=False)["feats"]
    dec_vars = decoder.init(k_dec, feats, train=False)
    params = {"backbone": bb_vars["params"], "decoder": dec_vars["params"]}
    extra = {
      "batch_stats": {
        "backbone": bb_vars.get("batch_stats", {}),
        "decoder": dec_vars.get("batch_stats", {}),
      }
    }
    return params, extra

  def loss(params, extra, batch, rng, step):
    del step
    images = batch["image"]
    noisy, is_corrupted = corrupt(
      rng, images, corruption=kind, noise_level=level
    )
    stats = extra["batch_stats"]
    out, bb_state = backbone.apply(
      {"params": params["backbone"], "batch_stats": stats["backbone"]},
      noisy,
      train=True,
      mutable=["batch_stats"],
    )
    recon, dec_state = decoder.apply(
      {"params": params["decoder"], "batch_stats": stats["decoder"]},
      out["feats"],
      train=True,
      mutable=["batch_stats"],
    )
    per_pixel = jnp.mean((recon - images.astype(jnp.float32)) ** 2, axis=-1)
    value = jnp.mean(per_pixel)
    w = is_corrupted.astype(jnp.float32)
    metrics = {
      "loss": value,
      "corrupted_loss": jnp.sum(per_pixel * w) / jnp.maximum(jnp.sum(w), 1),
      "z_std": pc.z_std(out["feats"]),
    }
    new_extra = {
      "batch_stats": {
        "backbone": bb_state["batch_stats"],
        "decoder": dec_state["batch_stats"],
      }
    }
    return value, (new_extra, metrics)

  def features(params, extra, batch):
    return common.encoder_features(
      backbone,
      params["backbone"],
      {"batch_stats": extra["batch_stats"]["backbone"]},
      batch["image"],
    )

  return base.Method(
    name="denoising_ae", init=init, loss=loss, features=features
  )


METHOD = base.MethodDef(
  name="denoising_ae",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
  data_kinds=("images",),
)
