"""Colorization: predict an image's colour (ab in CIE Lab) from its lightness.

One image per example (data kind `images`). Each step un-normalises the
batch (`config.data.mean/std`) to [0, 1] sRGB, converts it to CIE Lab
(`jaxssl.pretext.rgb_to_lab`) and feeds the lightness alone, L / 50 - 1,
to the backbone (a one-channel input: the network never sees colour). A
small decoder (`models.pretext_heads.UpDecoder`, `method.decoder_dim`
channels) upsamples the backbone's last feature map to `method.target_size`
and predicts, per pixel, a distribution over the quantised ab bins.

Zhang et al.'s classification with class rebalancing, not regression: the
ab plane is cut into cells of `method.bin_size` (10: 261 cells reached by
sRGB here, `pretext.ab_gamut_bins`; 313 in the paper), the ab targets
(average-pooled to the target side) are soft-encoded over their 5 nearest
bins (Gaussian, sigma 5; `pretext.soft_encode`), and each pixel's
cross-entropy is weighted by the rebalancing weight of its most likely bin
(`pretext.rebalance_weights`, mix lambda = `method.rebalance_mix`, 1/2 in
the paper; 1 disables rebalancing). Why: colours are multimodal (a car may
be red or blue) and an L2 regression averages the modes to grey-brown
(the paper, Sec. 2.1 and Fig. 2), so regression learns to predict the
mean tint; rebalancing stops the desaturated bins that dominate natural
images (and the embedded digits' faint backgrounds) from dominating the
loss. The empirical bin distribution
is not precomputed with a pass over the data: it is a running average of
the batches' soft-encoded targets (momentum `method.prior_momentum`,
bias-corrected like Adam's moments, so it is the plain batch mean at step
0) kept in `extra`, a pure function of the steps seen, so a resumed run
computes the same weights.

Features for evaluation: the backbone's pooled features of the image's
lightness (the input it was trained on), in inference mode; the random-init
baseline sees the same lightness input. Metrics: `loss`, `bin_accuracy`
(predicted vs most likely target bin), `z_std` of the features.

References:
  Zhang, Isola & Efros, Colorful Image Colorization, ECCV 2016,
  arXiv:1603.08511.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import pretext
from jaxssl.methods import base, common
from jaxssl.methods import pretext_common as pc
from jaxssl.models import pretext_heads


def default_config() -> ml_collections.ConfigDict:
  """Colorization's `config.method` keys, defaults as in the paper."""
  return ml_collections.ConfigDict(
    {
      "bin_size": 10.0,  # ab cell side (Lab units)
      "soft_sigma": 5.0,  # soft-encoding kernel width (Lab units)
      "soft_neighbours": 5,  # bins each target is spread over
      "rebalance_mix": 0.5,  # lambda: 1 = no rebalancing
      "prior_momentum": 0.99,  # running ab-bin distribution, per step
      # Side of the predicted ab map (paper: 56 for 224 inputs, i.e. 1/4);
      # the backbone's last map times a power of 2.
      "target_size": 56,
      "decoder_dim": 256,  # channels of each upsampling stage
    }
  )


def check_config(config) -> None:
  """Raises ValueError naming the first bad `config.method` key."""
  m = config.method
  for key in ("bin_size", "soft_sigma"):
    if m[key] <= 0:
      pc.fail(key, m[key], "must be > 0")
  if m.soft_neighbours < 1:
    pc.fail("soft_neighbours", m.soft_neighbours, "must be >= 1")
  if not 0.0 <= m.rebalance_mix <= 1.0:
    pc.fail("rebalance_mix", m.rebalance_mix, "must be in [0, 1]")
  if not 0.0 <= m.prior_momentum < 1.0:
    pc.fail("prior_momentum", m.prior_momentum, "must be in [0, 1)")
  if m.target_size < 1 or config.data.image_size % m.target_size:
    pc.fail(
      "target_size",
      m.target_size,
      f"must divide data.image_size={config.data.image_size}",
    )
  if m.decoder_dim < 1:
    pc.fail("decoder_dim", m.decoder_dim, "must be >= 1")


def smoke(m) -> None:
  m.target_size = min(m.target_size, 8)
  m.decoder_dim = min(m.decoder_dim, 16)


def _stages(fmap_side: int, target_size: int) -> int:
  """Doublings from the backbone's map to `target_size`; ValueError if none."""
  k = round(math.log2(max(target_size / fmap_side, 1e-9)))
  if k < 0 or fmap_side * 2**k != target_size:
    pc.fail(
      "target_size",
      target_size,
      f"must be the backbone's {fmap_side}-pixel feature map times a power "
      "of 2",
    )
  return k


def build(config) -> base.Method:
  """Colorization from `config.model`, `config.data` and `config.method`."""
  check_config(config)
  m = config.method
  backbone = common.backbone(config)
  bins = jnp.asarray(pretext.ab_gamut_bins(m.bin_size))
  num_bins = bins.shape[0]
  to_rgb = pc.unnormalizer(config)
  target, momentum = int(m.target_size), float(m.prior_momentum)

  def decoder(fmap):
    stages = _stages(fmap.shape[1], target)
    return pretext_heads.UpDecoder((m.decoder_dim,) * stages, num_bins)

  def lightness_and_ab(images):
    lab = pretext.rgb_to_lab(to_rgb(images))
    n, s = lab.shape[0], lab.shape[1]
    f = s // target  # average-pool ab to the target side
    ab = lab[..., 1:].reshape(n, target, f, target, f, 2).mean(axis=(2, 4))
    return lab[..., :1] / 50.0 - 1.0, ab

  def init(rng, batch):
    k_bb, k_dec = jax.random.split(rng)
    lightness, _ = lightness_and_ab(batch["image"][:2])
    bb_vars = backbone.init(k_bb, lightness, train=False)
    fmap, _, _ = pretext_heads.feature_map(
      backbone, bb_vars, lightness, train=False
    )
    dec_vars = decoder(fmap).init(k_dec, fmap, train=False)
    params = {"backbone": bb_vars["params"], "decoder": dec_vars["params"]}
    extra = {
      "batch_stats": {
        "backbone": bb_vars.get("batch_stats", {}),
        "decoder": dec_vars.get("batch_stats", {}),
      },
      # Running sum of the batches' bin distributions (bias-corrected).
      "ab_prior": jnp.zeros((num_bins,), jnp.float32),
    }
    return params, extra

  def loss(params, extra, batch, rng, step):
    del rng  # Deterministic given the batch.
    lightness, ab = lightness_and_ab(batch["image"])
    stats = extra["batch_stats"]
    fmap, feats, bb_stats = pretext_heads.feature_map(
      backbone,
      {"params": params["backbone"], "batch_stats": stats["backbone"]},
      lightness,
      train=True,
    )
    logits, dec_state = decoder(fmap).apply(
      {"params": params["decoder"], "batch_stats": stats["decoder"]},
      fmap,
      train=True,
      mutable=["batch_stats"],
    )
    soft = pretext.soft_encode(
      ab, bins, sigma=m.soft_sigma, neighbours=m.soft_neighbours
    )  # [n, t, t, Q]
    prior = momentum * extra["ab_prior"] + (1 - momentum) * jnp.mean(
      soft, axis=(0, 1, 2)
    )
    corrected = prior / (1 - momentum ** (jnp.asarray(step, jnp.float32) + 1))
    weights = jax.lax.stop_gradient(
      pretext.rebalance_weights(
        corrected, bins, mix=m.rebalance_mix, sigma=m.soft_sigma
      )
    )
    hard = jnp.argmax(soft, axis=-1)
    log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    ce = -jnp.sum(soft * log_p, axis=-1)  # [n, t, t]
    value = jnp.mean(weights[hard] * ce)
    metrics = {
      "loss": value,
      "unweighted_loss": jnp.mean(ce),
      "bin_accuracy": jnp.mean(
        (jnp.argmax(logits, axis=-1) == hard).astype(jnp.float32)
      ),
      "z_std": pc.z_std(feats),
    }
    new_extra = {
      "batch_stats": {
        "backbone": bb_stats,
        "decoder": dec_state["batch_stats"],
      },
      "ab_prior": jax.lax.stop_gradient(prior),
    }
    return value, (new_extra, metrics)

  def features(params, extra, batch):
    lightness, _ = lightness_and_ab(batch["image"])
    return common.encoder_features(
      backbone,
      params["backbone"],
      {"batch_stats": extra["batch_stats"]["backbone"]},
      lightness,
    )

  return base.Method(
    name="colorization", init=init, loss=loss, features=features
  )


METHOD = base.MethodDef(
  name="colorization",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
  data_kinds=("images",),
)
