"""BYOL: an online network regresses an EMA target network's projections.

The online network (backbone, projector, predictor) predicts, for one view,
the target network's projection of the other view; the target (backbone and
projector only) is an exponential moving average of the online ones and
receives no gradient. Loss per direction: 2 - 2 cos(p, z'), summed over the
two view orders and averaged over the batch.

Official defaults (arXiv:2006.07733 Sec. 3.2 and App. B/C;
github.com/deepmind/deepmind-research/tree/master/byol): ResNet-50,
projector and predictor MLPs Linear(4096)-BN-ReLU-Linear(256), LARS with base
lr 0.2 x B/256 (batch 4096), weight decay 1.5e-6 (biases and BN excluded from
weight decay and LARS adaptation), 10 warm-up epochs then cosine decay, 1000
epochs; target momentum tau_k = 1 - (1 - 0.996) (cos(pi k / K) + 1) / 2 per
step; augmentations with asymmetric blur (p = 1.0 / 0.1) and solarisation
(p = 0.0 / 0.2). Published: 74.3% ImageNet linear top-1.

Implementation notes:
  * Each view goes through the networks separately, so BatchNorm uses the
    statistics of one view's global batch, as the official code (which calls
    the network once per view); the online running statistics are updated
    once per view.
  * The target forward uses batch statistics (training mode) under
    `stop_gradient`. Its running statistics, kept in `extra` for
    completeness, are the EMA of the online ones with the same momentum (the
    official code instead lets the target's own forward update them; neither
    affects training, which only uses batch statistics).
  * `features` is the online backbone in inference mode (the official
    evaluation); `method.eval_network="teacher"` reads the target's.

The online network and the EMA target are `jaxssl.methods.online_target`,
shared with `simsiam` and `mocov3`.

References:
  Grill et al., "Bootstrap Your Own Latent: A New Approach to
  Self-Supervised Learning", NeurIPS 2020, arXiv:2006.07733.
"""

from __future__ import annotations

import jax
import ml_collections

from jaxssl import losses
from jaxssl.methods import base, common, online_target


def default_config() -> ml_collections.ConfigDict:
  """BYOL's `config.method` keys (but `name`): the EMA target's."""
  return common.ema_config()


def check_config(config) -> None:
  """ValueError naming the key: one group of two views, a projector, the
  EMA momenta in range."""
  common.single_group(config, num_views=2, method="byol")
  common.check_projector(config, "byol")
  common.check_ema(config)


def build(config) -> base.Method:
  """BYOL from `config.model` (projector, predictor) and the EMA keys.

  Reads the single two-view group of `config.data.views`,
  `config.method.ema_momentum(_end)`, `config.method.eval_network` and
  `config.train.total_steps` (the length of the momentum schedule).
  """
  group = common.single_group(config, num_views=2, method="byol")
  network = config.method.eval_network
  encoder = common.encoder(config)
  online = online_target.OnlineNetwork(encoder, common.predictor(config))

  def init(rng, batch):
    params, extra = online_target.init(online, rng, batch[group][:2, 0])
    return params, online_target.with_target(params, extra)

  def loss(params, extra, batch, rng, step):
    del rng  # No stochastic part in the step.
    views = batch[group]
    outs, stats = online_target.encode_views(
      online, params, extra["batch_stats"], views
    )
    teacher = extra["teacher"]
    targets, _ = online_target.encode_views(
      encoder, teacher["params"], teacher["batch_stats"], views
    )
    t1, t2 = (jax.lax.stop_gradient(t["z"]) for t in targets)
    p1, p2 = outs[0]["p"], outs[1]["p"]
    value = losses.byol(p1, t2) + losses.byol(p2, t1)
    metrics = {
      "loss": value,
      "tau": common.ema_momentum(config, step),
      **common.embedding_metrics(outs[0]["z"], outs[1]["z"]),
    }
    return value, ({**extra, "batch_stats": stats}, metrics)

  def features(params, extra, batch):
    images = batch["image"]
    return online_target.features(
      encoder, params, extra, images, network=network
    )

  def update_extra(params, extra, step):
    return online_target.ema_update(config, params, extra, step)

  return base.Method(
    name="byol",
    init=init,
    loss=loss,
    features=features,
    update_extra=update_extra,
  )


METHOD = base.MethodDef(
  name="byol",
  build=build,
  config=default_config,
  check=check_config,
)
