"""Pieces the pretext-task methods share (rotation, jigsaw, ...).

Classification loss and accuracy, the one-network encoder with a classifier
head, un-normalising images, and the config checks of their common keys.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxssl import models
from jaxssl.methods import base, common
from jaxssl.models import pretext_heads


def hidden_dims(width: int) -> tuple[int, ...]:
  """MLP hidden widths from one `head_hidden_dim` key: 0 -> linear head."""
  return (width,) if width > 0 else ()


def classifier(config, num_classes: int) -> models.Encoder:
  """Backbone + MLP classifier (its logits are the Encoder's "z")."""
  head = models.MLP(
    hidden_dims=hidden_dims(config.method.head_hidden_dim),
    out_dim=num_classes,
  )
  return models.Encoder(common.backbone(config), head)


def classification(
  logits: jax.Array, labels: jax.Array, where: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
  """(mean cross-entropy, top-1 accuracy in [0, 1]) over rows `where`."""
  logits = logits.astype(jnp.float32)
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  hit = (jnp.argmax(logits, -1) == labels).astype(jnp.float32)
  if where is None:
    return jnp.mean(ce), jnp.mean(hit)
  w = where.astype(jnp.float32)
  count = jnp.maximum(jnp.sum(w), 1.0)
  return jnp.sum(ce * w) / count, jnp.sum(hit * w) / count


def z_std(feats: jax.Array) -> jax.Array:
  """The collapse diagnostic of `common.embedding_metrics` on features."""
  return common.embedding_metrics(feats, feats)["z_std"]


def unnormalizer(config):
  """`images -> [0, 1] RGB`: undoes `config.data.mean/std`, clipped."""
  mean = jnp.asarray(config.data.mean, jnp.float32)
  std = jnp.asarray(config.data.std, jnp.float32)
  return lambda images: jnp.clip(images * std + mean, 0.0, 1.0)


def fail(key: str, value, why: str) -> None:
  """Raises the one-line ValueError naming `config.method.<key>`."""
  raise ValueError(f"config.method.{key}={value!r}: {why}")


def check_head(config) -> None:
  """Checks `config.method.head_hidden_dim` (>= 0)."""
  if config.method.head_hidden_dim < 0:
    fail(
      "head_hidden_dim",
      config.method.head_hidden_dim,
      "must be >= 0 (0: a linear classifier)",
    )


def normalize_tiles(tiles: jax.Array) -> jax.Array:
  """Each tile [..., h, w, c] to zero mean and unit std over its pixels.

  Noroozi & Favaro normalise every tile on its own so that the puzzle is
  not solved from low-level statistics shared by neighbouring tiles
  (brightness, contrast).
  """
  mean = jnp.mean(tiles, axis=(-3, -2, -1), keepdims=True)
  std = jnp.std(tiles, axis=(-3, -2, -1), keepdims=True)
  return (tiles - mean) / (std + 1e-5)


def tile_method(name: str, config, make_tiles, num_classes: int):
  """A method classifying the arrangement of tiles cut from each image.

  Args:
    name: registry name.
    config: the run config (`config.model`, `method.head_hidden_dim`,
      `method.normalize_tiles`).
    make_tiles: `(rng, images [n, s, s, 3]) -> (tiles [n, t, h, w, 3],
      labels [n])`, a `jaxssl.pretext` maker.
    num_classes: labels of the task.

  Returns:
    The `base.Method`: a `pretext_heads.TileClassifier` trained with a
    cross-entropy; features are the backbone alone on the whole image, in
    inference mode. Metrics: `loss`, `accuracy`, `z_std` (tile features).
  """
  backbone = common.backbone(config)
  net = pretext_heads.TileClassifier(
    backbone, hidden_dims(config.method.head_hidden_dim), num_classes
  )
  normalize = bool(config.method.normalize_tiles)

  def tiles_of(rng, images):
    tiles, labels = make_tiles(rng, images)
    return (normalize_tiles(tiles) if normalize else tiles), labels

  def init(rng, batch):
    k_init, k_tiles = jax.random.split(rng)
    tiles, _ = tiles_of(k_tiles, batch["image"][:2])
    return common.init_variables(net, k_init, tiles)

  def loss(params, extra, batch, rng, step):
    del step
    tiles, labels = tiles_of(rng, batch["image"])
    out, state = net.apply(
      {"params": params, "batch_stats": extra["batch_stats"]},
      tiles,
      train=True,
      mutable=["batch_stats"],
    )
    value, accuracy = classification(out["logits"], labels)
    metrics = {
      "loss": value,
      "accuracy": accuracy,
      "z_std": z_std(out["feats"]),
    }
    return value, ({"batch_stats": state["batch_stats"]}, metrics)

  def features(params, extra, batch):
    return backbone.apply(
      {
        "params": params["backbone"],
        "batch_stats": extra["batch_stats"]["backbone"],
      },
      batch["image"],
      train=False,
    )["feats"]

  return base.Method(name=name, init=init, loss=loss, features=features)
