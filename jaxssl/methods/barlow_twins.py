"""Barlow Twins: two views, one encoder + projector, redundancy reduction.

The cross-correlation matrix of the two views' standardised projections is
pushed towards the identity: its diagonal to 1 (invariance), its
off-diagonal to 0 (decorrelated features). Both branches are the same
network and both get gradients (no stop-gradient, no predictor, no EMA).

Each view goes through the encoder in its own call (`method.bn_per_view`,
default True), so BatchNorm normalises it with its own batch statistics, as
the official `forward` (`z1 = projector(backbone(y1))`, then y2) and
solo-learn; the running statistics are updated once per view.

The loss (`jaxssl.losses.barlow_twins`) standardises each feature with the
batch mean and biased variance (the official code's affine-free BatchNorm1d)
and divides by the batch size; under `jit` on the sharded global batch those
are global-batch statistics, as the official code's SyncBatchNorm and
all-reduced cross-correlation.

Defaults of the official code (facebookresearch/barlowtwins, main.py):
projector 8192-8192-8192 (Linear-BN-ReLU twice, then Linear), lambda
0.0051 (the paper rounds it to 5e-3), LARS, batch 2048. solo-learn multiplies
the loss by `scale_loss` (0.1 in its CIFAR recipe): `method.barlow_scale`.
The off-diagonal weight lambda is `method.off_diagonal_weight`, the
keyword of `losses.barlow_twins`.

References:
  Zbontar, Jing, Misra, LeCun & Deny, "Barlow Twins: Self-Supervised
  Learning via Redundancy Reduction", ICML 2021, arXiv:2103.03230.
"""

from __future__ import annotations

import jax
import ml_collections

from jaxssl import losses
from jaxssl.methods import base, common


def default_config() -> ml_collections.ConfigDict:
  """Barlow Twins' `config.method` keys (but `name`) and their defaults."""
  m = common.bn_per_view_config(True)  # official: one forward per view
  # losses.barlow_twins' weight of the off-diagonal term (lambda), >= 0.
  m.off_diagonal_weight = 5e-3
  m.barlow_scale = 1.0  # overall loss scale, > 0 (solo-learn: 0.1)
  return m


def check_config(config) -> None:
  """ValueError naming the key: one group of two views, weights in range,
  a projector."""
  common.single_group(config, num_views=2, method="barlow_twins")
  common.check_non_negative(config, "off_diagonal_weight")
  common.check_positive(config, "barlow_scale")
  common.check_projector(config, "barlow_twins")


def build(config) -> base.Method:
  """Barlow Twins from `config.model` and `config.method`.

  Reads the single view group of `config.data.views`, which must hold two
  views. The loss is `barlow_scale * (on_diag + off_diagonal_weight *
  off_diag)`; metrics: loss, z_std, pos_cos, and the unweighted terms
  `on_diag` (sum_i (1 - C_ii)^2) and `off_diag` (sum_{i!=j} C_ij^2).
  Config values are checked by `check_config` (`configs_lib.validate` and
  `methods.build` run it).
  """
  group = common.single_group(config, num_views=2, method="barlow_twins")
  lam = float(config.method.off_diagonal_weight)
  scale = float(config.method.barlow_scale)
  per_view = bool(config.method.bn_per_view)
  encoder = common.encoder(config)

  def init(rng, batch):
    return common.init_encoder(encoder, rng, batch[group])

  def loss(params, extra, batch, rng, step):
    del rng, step  # No stochastic or scheduled part in the step.
    views = batch[group]
    (z1, z2), new_extra = common.encode_views(
      encoder, params, extra, views, per_view=per_view
    )
    value = scale * losses.barlow_twins(z1, z2, off_diagonal_weight=lam)
    # The two terms for logging, from the same library loss (no gradient).
    # Each call is one more [d, n] x [n, d] product unless XLA shares it
    # with the call above: at most ~0.5% of the ImageNet step's FLOPs.
    s1, s2 = jax.lax.stop_gradient(z1), jax.lax.stop_gradient(z2)
    on_diag = losses.barlow_twins(s1, s2, off_diagonal_weight=0.0)
    off_diag = losses.barlow_twins(s1, s2, off_diagonal_weight=1.0) - on_diag
    metrics = {
      "loss": value,
      "on_diag": on_diag,
      "off_diag": off_diag,
      **common.embedding_metrics(z1, z2),
    }
    return value, (new_extra, metrics)

  def features(params, extra, batch):
    images = batch["image"]
    return common.encoder_features(encoder, params, extra, images)

  return base.Method(
    batch_coupled="Barlow Twins' cross-correlation is a whole-batch statistic",
    name="barlow_twins",
    init=init,
    loss=loss,
    features=features,
  )


METHOD = base.MethodDef(
  name="barlow_twins",
  build=build,
  config=default_config,
  check=check_config,
)
