"""SimCLR: two augmented views, one encoder + projector, NT-Xent.

References:
  Chen et al., "A Simple Framework for Contrastive Learning of Visual
  Representations", ICML 2020, arXiv:2002.05709.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxssl import losses
from jaxssl import models
from jaxssl.methods import base
from jaxssl.methods import common


def build(config) -> base.Method:
  """SimCLR from `config.model` and `config.method.temperature`.

  Reads the single view group of `config.data.views`, which must hold two
  views (any name; its batch entry is `[n, 2, h, w, 3]`).
  """
  group = common.single_group(config, num_views=2, method="simclr")
  encoder = models.Encoder(models.backbone(config.model),
                           models.projector(config.model))
  temperature = config.method.temperature

  def init(rng, batch):
    images = common.merge_views(batch[group])
    variables = encoder.init(rng, images[:2], train=False)
    return variables["params"], {"batch_stats": variables.get(
        "batch_stats", {})}

  def loss(params, extra, batch, rng, step):
    del rng, step  # SimCLR has no stochastic or scheduled part in the step.
    views = batch[group]
    n = views.shape[0]
    out, new_state = encoder.apply(
        {"params": params, "batch_stats": extra["batch_stats"]},
        common.merge_views(views), train=True, mutable=["batch_stats"])
    z1, z2 = out["z"][:n], out["z"][n:]
    value = losses.nt_xent(z1, z2, temperature=temperature)
    metrics = {"loss": value, **common.embedding_metrics(z1, z2)}
    return value, ({"batch_stats": new_state["batch_stats"]}, metrics)

  def features(params, extra, images):
    out = encoder.apply({"params": params, "batch_stats": extra["batch_stats"]},
                        images, train=False)
    return out["feats"]

  return base.Method(name="simclr", init=init, loss=loss, features=features)
