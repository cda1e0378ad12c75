"""SimSiam: a predictor regresses the other view's stop-gradient projection.

One network (backbone, projector, predictor) sees both views; the loss is
the negative cosine similarity between the prediction of one view and the
projection of the other with its gradient stopped, symmetrised:
L = (D(p1, sg(z2)) + D(p2, sg(z1))) / 2, D = -cos. No momentum encoder, no
negatives; the stop-gradient is what prevents collapse (Sec. 4.1).

Official defaults (arXiv:2011.10566 Sec. 3 and github.com/facebookresearch/
simsiam): ResNet-50; projector 3 Linear layers of 2048 with BN on every
output, the last BN without affine parameters (`proj_layers=3`,
`proj_last_bn=True`); predictor Linear(512)-BN-ReLU-Linear(2048)
(`pred_hidden_dim=512`, no output BN); SGD momentum 0.9, lr 0.05 x B/256
(batch 512), weight decay 1e-4, cosine decay without warm-up, 100 epochs,
predictor lr not decayed (`--fix-pred-lr`); MoCo v2 augmentations.
Published: 68.1% ImageNet linear top-1 at 100 epochs.

Each view goes through the network separately (BatchNorm statistics per
view, as the official code); `features` is the backbone in inference mode.
`method.fixed_predictor_lr` (official `--fix-pred-lr`, which the README's
68.1% run uses) puts the predictor in parameter groups with the constant
peak lr, `lr x B/256` (`base.ParamGroup.constant_lr`), while the rest of
the network follows the schedule.

References:
  Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021,
  arXiv:2011.10566.
"""

from __future__ import annotations

import jax

from jaxssl import losses, models
from jaxssl.methods import base, common, online_target

# Official `--fix-pred-lr`: the predictor keeps the peak lr, decayed or not
# as the rest (weights yes, biases and norms no).
_FIXED_PREDICTOR_GROUPS = {
  **base.DEFAULT_PARAM_GROUPS,
  "predictor_decay": base.ParamGroup(constant_lr=True),
  "predictor_no_decay": base.ParamGroup(weight_decay=False, constant_lr=True),
}


def _fixed_predictor_labels(params):
  """The default labels, the predictor's prefixed with "predictor_"."""
  return common.relabel(
    base.default_param_labels(params),
    ("predictor",),
    lambda label: f"predictor_{label}",
  )


def build(config) -> base.Method:
  """SimSiam from `config.model` (projector, predictor).

  Reads the single two-view group of `config.data.views` and
  `config.method.fixed_predictor_lr`.
  """
  group = common.single_group(config, num_views=2, method="simsiam")
  online_target.check_projector(config, "simsiam")
  encoder = models.Encoder(
    models.backbone(config.model), models.projector(config.model)
  )
  online = online_target.OnlineNetwork(encoder, models.predictor(config.model))

  def init(rng, batch):
    return online_target.init(online, rng, batch[group][:2, 0])

  def loss(params, extra, batch, rng, step):
    del rng, step  # SimSiam has no stochastic or scheduled part in the step.
    outs, stats = online_target.encode_views(
      online, params, extra["batch_stats"], batch[group]
    )
    p1, p2 = outs[0]["p"], outs[1]["p"]
    z1, z2 = outs[0]["z"], outs[1]["z"]
    value = 0.5 * (
      losses.negative_cosine(p1, jax.lax.stop_gradient(z2))
      + losses.negative_cosine(p2, jax.lax.stop_gradient(z1))
    )
    metrics = {"loss": value, **common.embedding_metrics(z1, z2)}
    return value, ({"batch_stats": stats}, metrics)

  def features(params, extra, batch):
    images = batch["image"]
    return online_target.features(encoder, params, extra, images)

  groups = {}
  if config.method.fixed_predictor_lr:
    groups = dict(
      param_labels=_fixed_predictor_labels,
      param_groups=_FIXED_PREDICTOR_GROUPS,
    )
  return base.Method(
    name="simsiam", init=init, loss=loss, features=features, **groups
  )
