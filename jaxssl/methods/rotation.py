"""RotNet: predict by how many quarter turns an image was rotated.

One image per example (data kind `images`). Each step rotates every image
of the batch on the device (`jaxssl.pretext.rotation`): with
`method.all_rotations` (the paper's choice, Sec. 2.2 / Table 6: "feeding
all four rotated copies of an image simultaneously") the batch becomes the
4n images at 0, 90, 180 and 270 degrees, otherwise each image gets one
random multiple of 90 degrees. The backbone and a classifier head
(`method.head_hidden_dim`: one hidden layer, 0 for a linear one) predict
the 4-way label with a cross-entropy. Four rotations of a natural image are
told apart only by knowing which way up objects are (the sky, faces,
digits): an object-level cue, unlike an image's colour or texture.

Features for evaluation: the backbone's pooled features of the upright
image in inference mode. Metrics: `loss`, `accuracy` (rotation top-1) and
`z_std` of the features.

References:
  Gidaris, Singh & Komodakis, Unsupervised Representation Learning by
  Predicting Image Rotations, ICLR 2018, arXiv:1803.07728.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import pretext
from jaxssl.methods import base, common
from jaxssl.methods import pretext_common as pc


def default_config() -> ml_collections.ConfigDict:
  """RotNet's `config.method` keys and their defaults."""
  return ml_collections.ConfigDict(
    {
      # All 4 rotations of every image in each batch (the paper), or one
      # random rotation per image.
      "all_rotations": True,
      # Classifier on the pooled features: one hidden layer of this width
      # (BN, ReLU), 0 for a linear classifier.
      "head_hidden_dim": 256,
    }
  )


def check_config(config) -> None:
  """Raises ValueError naming the first bad `config.method` key."""
  pc.check_head(config)


def smoke(m) -> None:
  m.head_hidden_dim = min(m.head_hidden_dim, 32)


def _rotate_all(images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """[4n, h, w, c] images at k * 90 degrees (k-major) and labels k."""
  n = images.shape[0]
  rotated = jnp.concatenate(
    [jnp.rot90(images, k, axes=(1, 2)) for k in range(4)]
  )
  return rotated, jnp.repeat(jnp.arange(4, dtype=jnp.int32), n)


def build(config) -> base.Method:
  """RotNet from `config.model` and `config.method`."""
  check_config(config)
  encoder = pc.classifier(config, num_classes=4)
  all_rotations = bool(config.method.all_rotations)

  def init(rng, batch):
    return common.init_variables(encoder, rng, batch["image"][:2])

  def loss(params, extra, batch, rng, step):
    del step
    images = batch["image"]
    if all_rotations:
      inputs, labels = _rotate_all(images)
    else:
      inputs, labels = pretext.rotation(rng, images)
    out, state = encoder.apply(
      {"params": params, "batch_stats": extra["batch_stats"]},
      inputs,
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

  return base.Method(name="rotation", init=init, loss=loss, features=features)


METHOD = base.MethodDef(
  name="rotation",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
  data_kinds=("images",),
)
