"""Exemplar CNN: every training image is its own class, learned from views.

Data kind `views`: the batch holds `v` augmented views of each of `n`
images ({group: [n, v, s, s, 3], "index": [n]}); an image's surrogate class
is its position in the train split, `batch["index"]`. The backbone and a
classifier over the surrogate classes (`method.head_hidden_dim`: one hidden
layer, 0 for a linear one) are trained with a cross-entropy on every view:
views of one image must land in one class and apart from every other
image, so the features become invariant to the augmentations (crops, colour)
while keeping what tells images apart.

Surrogate classes: `method.num_exemplars = 0` (default) makes every image of
the train split a class (a classifier over `num_train` classes, read from
the data kind's dataset info when the method is built); N > 0 keeps the
first N images of the split as classes, as the paper's fixed set of 8000 to
32000 surrogate classes, and leaves the other images out of the loss (their
rows are masked: they cost compute but teach nothing, so with N > 0 use a
train split of about N images). The paper samples 100 transformations per
class once; here every step draws new views, so no two epochs see the same
transformation.

Classifier: the paper's linear (or MLP) softmax, or with
`method.temperature` t > 0 cosine logits / t between the head's normalised
`embed_dim` output and normalised class weights (`models.CosineClassifier`,
parametric instance classification, Cao et al. 2020, arXiv:2006.14618, t =
0.2): with thousands of classes each seen a few times, the plain softmax
stays at chance (see `configs/exemplar_quick.py`).

Features for evaluation: the backbone's pooled features of the
un-augmented image in inference mode. Metrics: `loss`, `accuracy`
(surrogate-class top-1 over the views), `z_std` of the features and
`pos_cos`, the cosine of two views' features.

References:
  Dosovitskiy, Springenberg, Riedmiller & Brox, Discriminative Unsupervised
  Feature Learning with Convolutional Neural Networks, NIPS 2014,
  arXiv:1406.6909.
"""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections

from jaxssl import models
from jaxssl.methods import base, common
from jaxssl.methods import pretext_common as pc


def default_config() -> ml_collections.ConfigDict:
  """Exemplar CNN's `config.method` keys and their defaults."""
  return ml_collections.ConfigDict(
    {
      # Surrogate classes: 0 = every image of the train split, N = the
      # first N images (paper: 8000-32000 of STL-10's unlabelled split).
      "num_exemplars": 0,
      # Classifier on the pooled features (paper: one 512-unit layer).
      "head_hidden_dim": 512,
      # 0: the paper's linear softmax over the surrogate classes. t > 0:
      # cosine logits / t (`models.CosineClassifier`; PIC's t = 0.2), the
      # head's MLP ending in `embed_dim` normalised features.
      "temperature": 0.0,
      "embed_dim": 128,
    }
  )


def check_config(config) -> None:
  """Raises ValueError naming the first bad `config.method` key."""
  pc.check_head(config)
  if config.method.temperature < 0:
    pc.fail(
      "temperature",
      config.method.temperature,
      "must be >= 0 (0: the linear softmax, > 0: cosine logits / t)",
    )
  if config.method.embed_dim < 1:
    pc.fail("embed_dim", config.method.embed_dim, "must be >= 1")
  if config.method.num_exemplars < 0:
    pc.fail(
      "num_exemplars",
      config.method.num_exemplars,
      "must be >= 0 (0: every image of the train split)",
    )


def smoke(m) -> None:
  m.head_hidden_dim = min(m.head_hidden_dim, 32)


def num_classes(config) -> int:
  """`method.num_exemplars`, or the train split's size when it is 0."""
  if config.method.num_exemplars:
    return int(config.method.num_exemplars)
  from jaxssl.data import kinds  # pylint: disable=g-import-not-at-top

  return int(kinds.get(config.data.kind).info(config).num_train)


def build(config) -> base.Method:
  """Exemplar CNN from `config.model`, `config.method`, `config.data`."""
  check_config(config)
  groups = dict(config.data.views.items())
  if len(groups) != 1:
    raise ValueError(
      f"method 'exemplar' reads one view group, but config.data.views has "
      f"{sorted(groups)}"
    )
  ((group, spec),) = groups.items()
  if spec.num_views < 2:
    raise ValueError(
      f"method 'exemplar' needs config.data.views.{group}.num_views >= 2, "
      f"got {spec.num_views}"
    )
  classes = num_classes(config)
  m = config.method
  if m.temperature > 0:
    encoder = models.Encoder(
      common.backbone(config),
      models.CosineClassifier(
        pc.hidden_dims(m.head_hidden_dim),
        m.embed_dim,
        classes,
        m.temperature,
      ),
    )
  else:
    encoder = pc.classifier(config, num_classes=classes)

  def init(rng, batch):
    return common.init_encoder(encoder, rng, batch[group])

  def loss(params, extra, batch, rng, step):
    del rng, step
    views = batch[group]
    n, v = views.shape[:2]
    out, state = encoder.apply(
      {"params": params, "batch_stats": extra["batch_stats"]},
      common.merge_views(views),
      train=True,
      mutable=["batch_stats"],
    )
    index = jnp.asarray(batch["index"], jnp.int32)
    labels = jnp.tile(index, v)  # view-major rows, as merge_views
    valid = (labels >= 0) & (labels < classes)
    value, accuracy = pc.classification(
      out["z"], jnp.clip(labels, 0, classes - 1), where=valid
    )
    feats = out["feats"]
    metrics = {
      "loss": value,
      "accuracy": accuracy,
      **common.embedding_metrics(feats[:n], feats[n : 2 * n]),
    }
    return value, ({"batch_stats": state["batch_stats"]}, metrics)

  def features(params, extra, batch):
    return common.encoder_features(encoder, params, extra, batch["image"])

  return base.Method(name="exemplar", init=init, loss=loss, features=features)


METHOD = base.MethodDef(
  name="exemplar",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
  data_kinds=("views",),
)
