"""Supervised: cross-entropy on the labels, the same backbone and views.

The reference point of the self-supervised results: the same backbone
(`config.model`), the same augmented views pipeline and the same budget,
trained on the true classes `batch["label"]`. A classifier head on the
backbone's pooled features (`method.head_hidden_dim`: 0, the default, for a
linear head; else one hidden layer with BatchNorm and ReLU) predicts
`method.num_classes` logits; the loss is the softmax cross-entropy averaged
over every view of every example (views kind: each of the v views of the
one view group is a training image with its example's label; images kind:
the one image).

Evaluation reads the backbone's features (not the logits), like every
method, so its kNN and linear probe are comparable with the SSL rows.
Metrics: `loss`, `accuracy` (training top-1 on the augmented views) and
`z_std` of the features.

Labels must lie in [0, num_classes): `config.method.num_classes` (default
10) must cover the dataset's classes (a larger value is harmless).
"""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections

from jaxssl.methods import base, common
from jaxssl.methods import pretext_common as pc


def default_config() -> ml_collections.ConfigDict:
  """The supervised baseline's `config.method` keys and their defaults."""
  return ml_collections.ConfigDict(
    {
      "num_classes": 10,  # logits of the head; labels are in [0, this)
      # Classifier on the pooled features: one hidden layer of this width
      # (BN, ReLU), 0 for a linear classifier.
      "head_hidden_dim": 0,
    }
  )


def _group(config) -> str | None:
  """The view group the method reads (views kind), None for images."""
  if config.data.kind != "views":
    return None
  groups = sorted(config.data.views.keys())
  if len(groups) != 1:
    raise ValueError(
      f"method 'supervised' reads one view group, but config.data.views "
      f"has {groups}"
    )
  return groups[0]


def check_config(config) -> None:
  """Raises ValueError naming the first bad key."""
  if config.method.num_classes < 2:
    pc.fail("num_classes", config.method.num_classes, "must be >= 2")
  pc.check_head(config)
  _group(config)


def smoke(m) -> None:
  m.head_hidden_dim = min(m.head_hidden_dim, 32)


def build(config) -> base.Method:
  """The supervised classifier from `config.model` and `config.method`."""
  check_config(config)
  group = _group(config)
  encoder = pc.classifier(config, num_classes=config.method.num_classes)

  def images_and_labels(batch):
    if "label" not in batch:
      raise ValueError(
        "supervised needs batch['label'] (int [n]): the training dataset "
        "must have labels (config.data.label_key)"
      )
    if group is None:
      return batch["image"], batch["label"]
    views = batch[group]
    images = common.merge_views(views)  # view-major: view 0 rows first
    return images, jnp.tile(batch["label"], views.shape[1])

  def init(rng, batch):
    images, _ = images_and_labels(batch)
    return common.init_variables(encoder, rng, images[:2])

  def loss(params, extra, batch, rng, step):
    del rng, step  # No stochastic or scheduled part in the step.
    images, labels = images_and_labels(batch)
    out, state = encoder.apply(
      {"params": params, "batch_stats": extra["batch_stats"]},
      images,
      train=True,
      mutable=["batch_stats"],
    )
    value, accuracy = pc.classification(out["z"], labels)
    metrics = {
      "loss": value,
      "accuracy": accuracy,
      "z_std": pc.z_std(out["feats"]),
    }
    return value, ({"batch_stats": state["batch_stats"]}, metrics)

  def features(params, extra, batch):
    return common.encoder_features(encoder, params, extra, batch["image"])

  return base.Method(name="supervised", init=init, loss=loss, features=features)


METHOD = base.MethodDef(
  name="supervised",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
  data_kinds=("views", "images"),
)
