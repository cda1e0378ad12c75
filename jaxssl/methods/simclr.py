"""SimCLR: two augmented views, one encoder + projector, NT-Xent.

The loss is `method.loss_scale` times `losses.nt_xent`, the mean over the
2N anchors (solo-learn's `simclr_loss_func`, lightly's `NTXentLoss`). The
official TF code (google-research/simclr `objective.add_contrastive_loss`)
returns `loss_a + loss_b`, the sum of the two directions' means, i.e.
`loss_scale=2`. Under LARS the scale is not neutral: the trust ratio
cancels it for the adapted weights, but the biases and BatchNorm
parameters (no adaptation) take steps proportional to it, and weight
decay weighs 1/scale as much against the gradient.

Both views go through the encoder in one call by default, so BatchNorm
normalises over the 2N images, as the official code (`model.py`
concatenates the views along the batch); `method.bn_per_view=True`
forwards each view separately (BatchNorm statistics per view), as
solo-learn's `BaseMethod.training_step`, hence its CIFAR recipe.

`method.loss_block` = k > 0 computes the same loss (value and gradient)
inside `jax.shard_map` over the mesh's "data" axis, k anchors at a time per
device (`losses.nt_xent_blockwise`, `jaxssl.methods.contrastive_block`):
memory ~ k * 2N per device instead of the [2N / D, 2N] logits.

References:
  Chen et al., "A Simple Framework for Contrastive Learning of Visual
  Representations", ICML 2020, arXiv:2002.05709.
"""

from __future__ import annotations

import ml_collections

from jaxssl import losses
from jaxssl.methods import base, common, contrastive_block


def default_config() -> ml_collections.ConfigDict:
  """SimCLR's `config.method` keys (but `name`) and their defaults."""
  m = common.bn_per_view_config(False)  # official: both views in one call
  m.temperature = 0.1  # losses.nt_xent's softmax temperature, > 0
  # Multiplies nt_xent's mean over the 2N anchors, > 0; 2.0: the official
  # TF loss, the sum of both directions' means.
  m.loss_scale = 1.0
  # > 0: nt_xent in [loss_block, 2N] tiles per device under shard_map (same
  # value and gradient, jaxssl.methods.contrastive_block); 0: dense.
  m.loss_block = 0
  return m


def check_config(config) -> None:
  """ValueError naming the key: one group of two views, temperature and
  loss_scale > 0, loss_block an int >= 0."""
  common.single_group(config, num_views=2, method="simclr")
  common.check_positive(config, "temperature", "loss_scale")
  contrastive_block.check(config)


def build(config) -> base.Method:
  """SimCLR from `config.model` and `config.method` (temperature,
  loss_scale).

  Reads the single view group of `config.data.views`, which must hold two
  views (any name; its batch entry is `[n, 2, h, w, 3]`).
  """
  group = common.single_group(config, num_views=2, method="simclr")
  encoder = common.encoder(config)
  temperature = config.method.temperature
  scale = float(config.method.loss_scale)
  per_view = bool(config.method.bn_per_view)
  block = int(config.method.loss_block)

  def init(rng, batch):
    return common.init_encoder(encoder, rng, batch[group])

  def loss(params, extra, batch, rng, step):
    del rng, step  # SimCLR has no stochastic or scheduled part in the step.
    views = batch[group]
    (z1, z2), new_extra = common.encode_views(
      encoder, params, extra, views, per_view=per_view
    )
    if block:
      value = contrastive_block.nt_xent(
        z1, z2, temperature=temperature, block_size=block
      )
    else:
      value = losses.nt_xent(z1, z2, temperature=temperature)
    value = scale * value
    metrics = {"loss": value, **common.embedding_metrics(z1, z2)}
    return value, (new_extra, metrics)

  def features(params, extra, batch):
    images = batch["image"]
    return common.encoder_features(encoder, params, extra, images)

  return base.Method(
    batch_coupled="NT-Xent takes its negatives from the whole batch",
    name="simclr",
    init=init,
    loss=loss,
    features=features,
  )


METHOD = base.MethodDef(
  name="simclr",
  build=build,
  config=default_config,
  check=check_config,
)
