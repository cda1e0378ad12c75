"""SupCon: supervised contrastive learning, positives from the labels.

Two augmented views of each example go through one encoder + projector;
every view is an anchor, and its positives are all other views in the
global batch with the same label `batch["label"]` (not only its own other
view, as in SimCLR). This is the "label by sample" upper baseline for the
self-supervised methods: the same pipeline and encoder, but with the true
classes telling it what to pull together. With all-distinct labels the loss
is SimCLR's NT-Xent.

Both views go through the encoder in one call by default, so BatchNorm
normalises over the 2N images, as the official code (SupContrast
`main_supcon.py` concatenates the views); `method.bn_per_view=True`
forwards each view separately, as solo-learn (its CIFAR recipe).

The loss is `jaxssl.losses.supcon` (L_out, the paper's better variant),
without the official code's `temperature / base_temperature` factor, so
that the unsupervised case is SimCLR exactly (a constant factor that LARS
mostly normalises away).

References:
  Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020,
  arXiv:2004.11362; official code google-research/google-research/supcon
  (temperature 0.1 on ImageNet) and HobbitLong/SupContrast.
"""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections

from jaxssl import losses
from jaxssl.methods import base, common


def default_config() -> ml_collections.ConfigDict:
  """SupCon's `config.method` keys (but `name`) and their defaults."""
  m = common.bn_per_view_config(False)  # official: both views in one call
  m.temperature = 0.1  # losses.supcon's softmax temperature, > 0
  return m


def check_config(config) -> None:
  """ValueError naming the key: one group of two views, temperature > 0, a
  projector."""
  common.single_group(config, num_views=2, method="supcon")
  common.check_positive(config, "temperature")
  common.check_projector(config, "supcon")


def build(config) -> base.Method:
  """SupCon from `config.model` and `config.method.temperature`.

  Reads the single view group of `config.data.views`, which must hold two
  views, and the labels `batch["label"]` (int [n]) of the training batch.
  Metrics: loss, z_std, pos_cos (the cosine of the two views of one
  example), and `class_cos`, the mean cosine between views of different
  examples that share a label (what the labels add over SimCLR).

  Config values are checked by `check_config` (`configs_lib.validate` and
  `methods.build` run it).

  Raises:
    ValueError: at trace time if the batch has no "label".
  """
  group = common.single_group(config, num_views=2, method="supcon")
  temperature = config.method.temperature
  per_view = bool(config.method.bn_per_view)
  encoder = common.encoder(config)

  def init(rng, batch):
    return common.init_encoder(encoder, rng, batch[group])

  def loss(params, extra, batch, rng, step):
    del rng, step  # No stochastic or scheduled part in the step.
    if "label" not in batch:
      raise ValueError(
        "supcon needs batch['label'] (int [n]): the training "
        "dataset must have labels (config.data.label_key)"
      )
    views = batch[group]
    labels = batch["label"]
    (z1, z2), new_extra = common.encode_views(
      encoder, params, extra, views, per_view=per_view
    )
    value = losses.supcon(
      jnp.stack([z1, z2], axis=1), labels, temperature=temperature
    )
    metrics = {
      "loss": value,
      **common.embedding_metrics(z1, z2),
      "class_cos": _same_class_cos(z1, labels),
    }
    return value, (new_extra, metrics)

  def features(params, extra, batch):
    images = batch["image"]
    return common.encoder_features(encoder, params, extra, images)

  return base.Method(
    batch_coupled="SupCon takes in-batch positives and negatives",
    name="supcon",
    init=init,
    loss=loss,
    features=features,
  )


METHOD = base.MethodDef(
  name="supcon",
  build=build,
  config=default_config,
  check=check_config,
)


def _same_class_cos(z, labels):
  """Mean cosine over pairs of distinct examples with the same label (0 if
  the batch has no such pair)."""
  u = z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
  same = (labels[:, None] == labels[None, :]) & ~jnp.eye(len(z), dtype=bool)
  count = jnp.sum(same)
  total = jnp.sum(jnp.where(same, u @ u.T, 0.0))
  return total / jnp.maximum(count, 1)
