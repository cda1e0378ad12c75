"""VICReg: two views, one encoder + projector, variance-invariance-covariance.

The two views' projections are pulled together (invariance, mean squared
error), each branch's per-feature std is kept above 1 (variance hinge) and
its features decorrelated (covariance). Both branches are the same network
and both get gradients (no stop-gradient, no predictor, no EMA).

Each view goes through the encoder in its own call (`method.bn_per_view`,
default True), so BatchNorm normalises it with its own batch statistics, as
the official `forward` (`x = projector(backbone(x))`, then y) and
solo-learn; the running statistics are updated once per view.

The loss (`jaxssl.losses.vicreg`) uses unbiased batch statistics; under
`jit` on the sharded global batch they are global-batch statistics, as the
official code's all-gathered embeddings.

Defaults of the official code (facebookresearch/vicreg, main_vicreg.py):
projector "8192-8192-8192" (Linear-BN-ReLU twice, then Linear), weights
sim 25 / std 25 / cov 1 (`method.invariance_weight`, `variance_weight`,
`covariance_weight`: the keywords of `losses.vicreg`), LARS with base lr 0.2
x B/256, weight decay 1e-6, batch 2048.

References:
  Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance
  Regularization for Self-Supervised Learning", ICLR 2022,
  arXiv:2105.04906.
"""

from __future__ import annotations

import jax
import ml_collections

from jaxssl import losses
from jaxssl.methods import base, common

# The config.method keys of the three loss weights (losses.vicreg keywords).
_WEIGHTS = ("invariance_weight", "variance_weight", "covariance_weight")


def default_config() -> ml_collections.ConfigDict:
  """VICReg's `config.method` keys (but `name`) and their defaults."""
  m = common.bn_per_view_config(True)  # official: one forward per view
  # losses.vicreg's term weights, each >= 0 and not all 0.
  m.invariance_weight = 25.0  # lambda: mean squared error of the views
  m.variance_weight = 25.0  # mu: per-feature std hinge
  m.covariance_weight = 1.0  # nu: off-diagonal covariance
  return m


def check_config(config) -> None:
  """ValueError naming the key: one group of two views, weights >= 0 and
  not all 0, a projector."""
  common.single_group(config, num_views=2, method="vicreg")
  common.check_non_negative(config, *_WEIGHTS)
  if not any(config.method[key] for key in _WEIGHTS):
    raise ValueError(
      f"config.method.{{{', '.join(_WEIGHTS)}}} are all 0: nothing to optimise"
    )
  common.check_projector(config, "vicreg")


def build(config) -> base.Method:
  """VICReg from `config.model` and `config.method` (the three weights).

  Reads the single view group of `config.data.views`, which must hold two
  views. The loss is `invariance_weight * inv + variance_weight * var +
  covariance_weight * cov`; metrics: loss, z_std, pos_cos, and the
  unweighted terms `inv_loss` (mean squared difference of the views),
  `var_loss` (mean std hinge, averaged over the two branches) and
  `cov_loss` (summed over the two branches), as defined by
  `jaxssl.losses.vicreg`. Config values are checked by `check_config`
  (`configs_lib.validate` and `methods.build` run it).
  """
  group = common.single_group(config, num_views=2, method="vicreg")
  weights = {key: float(config.method[key]) for key in _WEIGHTS}
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
    value = losses.vicreg(z1, z2, **weights)
    # The three terms for logging, from the same library loss with one-hot
    # weights (no gradient). They repeat the covariance products unless XLA
    # shares them: at most ~1.6% of the ImageNet step's FLOPs.
    s1, s2 = jax.lax.stop_gradient(z1), jax.lax.stop_gradient(z2)

    def term(inv, var, cov):
      return losses.vicreg(
        s1,
        s2,
        invariance_weight=inv,
        variance_weight=var,
        covariance_weight=cov,
      )

    metrics = {
      "loss": value,
      "inv_loss": term(1.0, 0.0, 0.0),
      "var_loss": term(0.0, 1.0, 0.0),
      "cov_loss": term(0.0, 0.0, 1.0),
      **common.embedding_metrics(z1, z2),
    }
    return value, (new_extra, metrics)

  def features(params, extra, batch):
    images = batch["image"]
    return common.encoder_features(encoder, params, extra, images)

  return base.Method(
    batch_coupled="VICReg's variance and covariance are whole-batch statistics",
    name="vicreg",
    init=init,
    loss=loss,
    features=features,
  )


METHOD = base.MethodDef(
  name="vicreg",
  build=build,
  config=default_config,
  check=check_config,
)
