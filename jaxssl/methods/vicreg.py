"""VICReg: two views, one encoder + projector, variance-invariance-covariance.

The two views' projections are pulled together (invariance, mean squared
error), each branch's per-feature std is kept above 1 (variance hinge) and
its features decorrelated (covariance). Both branches are the same network
and both get gradients (no stop-gradient, no predictor, no EMA).

The loss (`jaxssl.losses.vicreg`) uses unbiased batch statistics; under
`jit` on the sharded global batch they are global-batch statistics, as the
official code's all-gathered embeddings.

Defaults of the official code (facebookresearch/vicreg, main_vicreg.py):
projector "8192-8192-8192" (Linear-BN-ReLU twice, then Linear), weights
sim 25 / std 25 / cov 1 (`method.vicreg_sim/std/cov`), LARS with base lr 0.2
x B/256, weight decay 1e-6, batch 2048.

References:
  Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance
  Regularization for Self-Supervised Learning", ICLR 2022,
  arXiv:2105.04906.
"""

from __future__ import annotations

import jax

from jaxssl import losses
from jaxssl.methods import base, common


def build(config) -> base.Method:
  """VICReg from `config.model` and `config.method.vicreg_*`.

  Reads the single view group of `config.data.views`, which must hold two
  views. The loss is `vicreg_sim * inv + vicreg_std * var + vicreg_cov *
  cov`; metrics: loss, z_std, pos_cos, and the unweighted terms `inv_loss`
  (mean squared difference of the views), `var_loss` (mean std hinge,
  averaged over the two branches) and `cov_loss` (summed over the two
  branches), as defined by `jaxssl.losses.vicreg`.

  Raises:
    ValueError: naming the config key, for a view group that is not two
      views, a negative weight, all three weights zero, or no projector
      (`model.proj_layers=0`).
  """
  group = common.single_group(config, num_views=2, method="vicreg")
  m = config.method
  weights = {
    "sim": float(m.vicreg_sim),
    "std": float(m.vicreg_std),
    "cov": float(m.vicreg_cov),
  }
  for name, w in weights.items():
    if w < 0:
      raise ValueError(f"config.method.vicreg_{name}={w!r} must be >= 0")
  if not any(weights.values()):
    raise ValueError(
      "config.method.vicreg_sim/std/cov are all 0: nothing to optimise"
    )
  if config.model.proj_layers < 1:
    raise ValueError(
      f"config.model.proj_layers={config.model.proj_layers!r}:"
      " vicreg needs a projector (>= 1 layer)"
    )
  encoder = common.encoder(config)

  def init(rng, batch):
    return common.init_encoder(encoder, rng, batch[group])

  def loss(params, extra, batch, rng, step):
    del rng, step  # No stochastic or scheduled part in the step.
    views = batch[group]
    (z1, z2), new_extra = common.encode_merged(encoder, params, extra, views)
    value = losses.vicreg(
      z1,
      z2,
      invariance_weight=weights["sim"],
      variance_weight=weights["std"],
      covariance_weight=weights["cov"],
    )
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

  return base.Method(name="vicreg", init=init, loss=loss, features=features)
