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
  * `features` is the online backbone in inference mode.

Shared with `simsiam` and `mocov3`: `OnlineNetwork`, `encode_views` and the
EMA helpers `check_ema_config`, `ema_momentum`, `ema_update`.

References:
  Grill et al., "Bootstrap Your Own Latent: A New Approach to
  Self-Supervised Learning", NeurIPS 2020, arXiv:2006.07733.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jaxssl import losses
from jaxssl import models
from jaxssl.methods import base
from jaxssl.methods import common


class OnlineNetwork(nn.Module):
  """Backbone + projector (`encoder`) followed by a `predictor` on "z".

  Params and BatchNorm statistics are `{"encoder": ..., "predictor": ...}`,
  so the encoder's part can be copied to (and averaged into) a target
  network built from the same `models.Encoder`.
  """
  encoder: nn.Module
  predictor: nn.Module

  @nn.compact
  def __call__(self, images: jax.Array, *,
               train: bool) -> dict[str, jax.Array]:
    """Returns the encoder's dict ("feats", "z") plus "p", the prediction."""
    out = dict(self.encoder(images, train=train))
    out["p"] = self.predictor(out["z"], train=train)
    return out


def encode_views(module: nn.Module, params, batch_stats, views: jax.Array):
  """Applies `module` in training mode to each view of `views` in turn.

  BatchNorm normalises each view with its own batch statistics (as the
  official BYOL, SimSiam and MoCo v3 code, which call the network once per
  view) and the running statistics are threaded through the views.

  Args:
    module: a Linen module with `__call__(images, *, train)`.
    params: its params.
    batch_stats: its "batch_stats" collection ({} if it has none).
    views: [n, v, h, w, 3] images.

  Returns:
    (outputs, batch_stats): the list of the v per-view outputs and the
    running statistics after the v updates.
  """
  if views.ndim != 5:
    raise ValueError(f"views must be [n, v, h, w, c], got {views.shape}")
  outs = []
  for v in range(views.shape[1]):
    out, state = module.apply({"params": params, "batch_stats": batch_stats},
                              views[:, v], train=True,
                              mutable=["batch_stats"])
    batch_stats = state.get("batch_stats", batch_stats)
    outs.append(out)
  return outs, batch_stats


def check_ema_config(config) -> None:
  """ValueError naming the key unless 0 <= ema_momentum <= _end <= 1."""
  start = config.method.ema_momentum
  end = config.method.ema_momentum_end
  if not 0.0 <= start <= 1.0:
    raise ValueError(f"config.method.ema_momentum={start!r} must be in "
                     "[0, 1]")
  if not start <= end <= 1.0:
    raise ValueError(f"config.method.ema_momentum_end={end!r} must be in "
                     f"[config.method.ema_momentum={start!r}, 1]")


def ema_momentum(config, step: jax.Array) -> jax.Array:
  """The target momentum of `step`: BYOL's cosine from start to end."""
  return common.cosine_increase(step, config.train.total_steps,
                                config.method.ema_momentum,
                                config.method.ema_momentum_end)


def ema_update(config, params, extra, step):
  """`extra["teacher"]` moved towards the online encoder at `step`'s momentum.

  Both the teacher's params and its BatchNorm statistics are averaged:
  teacher = m * teacher + (1 - m) * online, m = `ema_momentum(config, step)`.
  """
  m = ema_momentum(config, step)
  teacher = extra["teacher"]
  new_teacher = {
      "params": common.ema(teacher["params"], params["encoder"], m),
      "batch_stats": common.ema(teacher["batch_stats"],
                                extra["batch_stats"].get("encoder", {}), m),
  }
  return {**extra, "teacher": new_teacher}


def check_projector(config, method: str) -> None:
  """The predictor methods need a projector ("z"): proj_layers >= 1."""
  if config.model.proj_layers < 1:
    raise ValueError(f"method {method!r} needs a projector: "
                     f"config.model.proj_layers={config.model.proj_layers!r} "
                     "must be >= 1")


def build(config) -> base.Method:
  """BYOL from `config.model` (projector, predictor) and the EMA keys.

  Reads the single two-view group of `config.data.views`,
  `config.method.ema_momentum(_end)` and `config.train.total_steps` (the
  length of the momentum schedule).
  """
  group = common.single_group(config, num_views=2, method="byol")
  check_projector(config, "byol")
  check_ema_config(config)
  encoder = models.Encoder(models.backbone(config.model),
                           models.projector(config.model))
  online = OnlineNetwork(encoder, models.predictor(config.model))

  def init(rng, batch):
    variables = online.init(rng, batch[group][:2, 0], train=False)
    params = variables["params"]
    stats = variables.get("batch_stats", {})
    teacher = {"params": params["encoder"],
               "batch_stats": stats.get("encoder", {})}
    return params, {"batch_stats": stats, "teacher": teacher}

  def loss(params, extra, batch, rng, step):
    del rng  # No stochastic part in the step.
    views = batch[group]
    outs, stats = encode_views(online, params, extra["batch_stats"], views)
    teacher = extra["teacher"]
    targets, _ = encode_views(encoder, teacher["params"],
                              teacher["batch_stats"], views)
    t1, t2 = (jax.lax.stop_gradient(t["z"]) for t in targets)
    p1, p2 = outs[0]["p"], outs[1]["p"]
    value = losses.byol(p1, t2) + losses.byol(p2, t1)
    metrics = {"loss": value, "tau": ema_momentum(config, step),
               **common.embedding_metrics(outs[0]["z"], outs[1]["z"])}
    return value, ({**extra, "batch_stats": stats}, metrics)

  def features(params, extra, images):
    out = encoder.apply({"params": params["encoder"],
                         "batch_stats": extra["batch_stats"].get("encoder",
                                                                 {})},
                        images, train=False)
    return out["feats"]

  def update_extra(params, extra, step):
    return ema_update(config, params, extra, step)

  return base.Method(name="byol", init=init, loss=loss, features=features,
                     update_extra=update_extra)
