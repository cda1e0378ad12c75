"""DINO: self-distillation with no labels, multi-crop, EMA teacher.

A student (backbone + `DINOHead`) sees every crop; a teacher with the same
architecture, an exponential moving average of the student (its parameters
and its BatchNorm statistics), sees only the global crops. The student's
softmax over K prototypes at temperature `student_temp` is trained to match
the teacher's centred, sharpened softmax (temperature warmed up linearly
from `teacher_temp` to `teacher_temp_end`) over every (teacher view, student
view) pair of different crops (`jaxssl.losses.dino`). The centre is an EMA
(`center_momentum`) of the teacher's mean logit (`losses.dino_center`).

Multi-crop (`jaxssl.methods.multicrop`): `config.data.views` holds one
group of global crops (the group with the largest `size`, e.g. "global_crops": 2
views of 224 px, crop_scale (0.4, 1)) and optionally groups of local crops
(smaller `size`, e.g. "local_crops": 8-10 views of 96 px, crop_scale (0.05,
0.4)). As the official `MultiCropWrapper`, the backbone runs once per view
group (BatchNorm statistics per resolution) and the head once on all crops
together. A ViT with learned position embeddings (initialised on the global
crops' patch grid) reads other grids (local crops, evaluation images)
through a bicubic interpolation of the embeddings, as DINO's
`interpolate_pos_encoding`.

State in `extra`: the student's BatchNorm statistics, the teacher's
parameters and BatchNorm statistics, and the centre. Schedules (teacher
temperature, EMA momentum) are functions of the step.

Parameter groups (`Method.param_groups`): weight decay on every parameter
with ndim >= 2 and on the whole last layer, none on biases and norms
(official `get_params_groups`); the last layer ("last_layer") is frozen by
the optimizer for the first `freeze_last_layer_steps` steps
(`base.ParamGroup.frozen_until_step`): bit-identical until then, its
optimizer state (AdamW moments and bias correction) starting fresh at
unfreeze, as the official `cancel_gradients_last_layer` (grad = None).

Evaluation (`Method.features`, read by every protocol): the teacher's
backbone in inference mode by default, as the official kNN and linear
evaluations (`eval_knn.py`, `eval_linear.py`: `--checkpoint_key teacher`);
`method.eval_network="student"` reads the student's.

Config keys read: method.{num_prototypes, head_hidden_dim,
head_bottleneck_dim, head_layers, norm_last_layer, freeze_last_layer_steps,
student_temp, teacher_temp, teacher_temp_end, teacher_temp_warmup_steps,
center_momentum, ema_momentum, ema_momentum_end, eval_network};
model.{name, patch_size};
train.total_steps (EMA schedule); optim.clip_grad_norm (DINO: 3.0) is
applied by the optimizer.

Differences from the official code: the head has BatchNorm after its
hidden layers for convolutional backbones (official `use_bn_in_head`, off
by default; see `head_use_bn`), never for ViTs; gradient clipping is by
global norm (official: each parameter tensor's norm is clipped to 3.0);
the weight decay is constant (official: cosine 0.04 -> 0.4); the
teacher-temperature and last-layer freeze schedules are counted in steps,
not epochs.

References:
  Caron et al., "Emerging Properties in Self-Supervised Vision
  Transformers", ICCV 2021, arXiv:2104.14294; official code
  github.com/facebookresearch/dino (`main_dino.py`: defaults out_dim 65536,
  momentum_teacher 0.996, teacher_temp 0.04, student temp 0.1, centre
  momentum 0.9, clip_grad 3.0, freeze_last_layer 1 epoch).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import losses
from jaxssl.methods import base, common, multicrop
from jaxssl.models import prototype_heads


def default_config() -> ml_collections.ConfigDict:
  """DINO's `config.method` keys (but `name`) and their defaults."""
  m = multicrop.prototype_config(num_prototypes=65536)
  # Official kNN / linear evaluation: the teacher (--checkpoint_key teacher).
  m.update(common.ema_config(eval_network="teacher"))
  # The head (prototype_heads.DINOHead) before its K-way last layer.
  m.head_hidden_dim = 2048  # MLP width
  m.head_bottleneck_dim = 256
  m.head_layers = 3  # Linear layers before the last
  m.norm_last_layer = True  # weight-norm gain of the last layer fixed at 1
  # losses.dino's temperatures; the teacher's warms up linearly from
  # `teacher_temp` to `teacher_temp_end` (losses.dino_teacher_temp).
  m.student_temp = 0.1
  m.teacher_temp = 0.04
  m.teacher_temp_end = 0.07
  m.teacher_temp_warmup_steps = 0
  m.center_momentum = 0.9  # losses.dino_center's momentum
  return m


def check_config(config) -> None:
  """ValueError naming the key: multi-crop view groups, prototypes, values
  in range."""
  multicrop.check_views(config, method="dino")
  multicrop.check_prototypes(config)
  common.check_positive(
    config,
    "head_hidden_dim",
    "head_bottleneck_dim",
    "head_layers",
    "student_temp",
    "teacher_temp",
    "teacher_temp_end",
  )
  common.check_ema(config)
  common.check_in_unit_interval(config, "center_momentum")
  common.check_non_negative(config, "teacher_temp_warmup_steps")


def smoke(m) -> None:
  """Shrinks DINO's keys of `config.method` in place."""
  multicrop.smoke_prototypes(m)
  m.head_hidden_dim = min(m.head_hidden_dim, 64)
  m.head_bottleneck_dim = min(m.head_bottleneck_dim, 32)


def head_use_bn(config) -> bool:
  """BatchNorm in the DINO head: for convolutional backbones, not for ViTs.

  The official head (no BatchNorm by default, trunc-normal std 0.02
  weights) is tuned for LayerNorm-ed ViT features. Average-pooled ReLU
  features of a ResNet share a large common component, and the small
  initial weights shrink them to a tiny bottleneck vector (||z|| ~ 0.07 for
  tiny_resnet with a 512-wide head, 3e-3 with the 64-wide smoke head, vs
  O(1) for a ViT), whose L2 normalisation then amplifies the gradient
  (global grad norm ~900 at step 1 in the smoke run) and the zero-init
  biases take over: z collapsed to one direction within 3 steps (LARS, SGD
  and AdamW alike). The official `use_bn_in_head=True` option fixes it
  (grad norm ~15, no collapse). There is no config key for it yet.
  """
  return common.backbone(config).kind != "vit"


def build(config) -> base.Method:
  """DINO from `config` (see the module docstring for the keys read)."""
  m = config.method
  global_group, local_groups = multicrop.view_groups(config, method="dino")
  groups = (global_group, *local_groups)
  backbone = multicrop.grouped(config, common.backbone(config))
  head = prototype_heads.DINOHead(
    num_prototypes=m.num_prototypes,
    hidden_dim=m.head_hidden_dim,
    bottleneck_dim=m.head_bottleneck_dim,
    num_layers=m.head_layers,
    norm_last_layer=m.norm_last_layer,
    use_bn=head_use_bn(config),
    bn_groups=m.bn_groups,
  )
  by_image = m.bn_groups > 1
  num_global = config.data.views[global_group].num_views
  num_views = sum(config.data.views[g].num_views for g in groups)
  k = m.num_prototypes

  def teacher_temp(step):
    return losses.dino_teacher_temp(
      step,
      warmup=m.teacher_temp,
      final=m.teacher_temp_end,
      warmup_epochs=m.teacher_temp_warmup_steps,
    )

  def momentum(step):
    return common.ema_momentum(config, step)

  def init(rng, batch):
    images = common.merge_views(batch[global_group])[:2]
    params, stats = multicrop.init_backbone_and_head(
      backbone, head, rng, images
    )
    teacher = jax.tree.map(jnp.copy, {"params": params, "batch_stats": stats})
    return params, {
      "batch_stats": stats,
      "teacher": teacher,
      "center": jnp.zeros((k,), jnp.float32),
    }

  def loss(params, extra, batch, rng, step):
    del rng  # No stochastic part in the step (augmentations are upstream).
    views = [batch[g] for g in groups]
    n = views[0].shape[0]
    student, stats = multicrop.apply_backbone_and_head(
      backbone, head, params, extra["batch_stats"], views, by_image=by_image
    )
    teacher, _ = multicrop.apply_backbone_and_head(
      backbone,
      head,
      extra["teacher"]["params"],
      extra["teacher"]["batch_stats"],
      views[:1],
      by_image=by_image,
    )
    s_logits = student["logits"].reshape(num_views, n, k)
    t_logits = jax.lax.stop_gradient(teacher["logits"]).reshape(
      num_global, n, k
    )
    temp = teacher_temp(step)
    center = extra["center"]
    value = losses.dino(
      s_logits, t_logits, center, student_temp=m.student_temp, teacher_temp=temp
    )
    new_center = losses.dino_center(
      center, t_logits, momentum=m.center_momentum
    )
    z = student["z"]
    centred = t_logits - center
    metrics = {
      "loss": value,
      **common.embedding_metrics(z[:n], z[n : 2 * n]),
      "teacher_entropy": losses.mean_entropy(centred, temperature=temp),
      "teacher_marginal_entropy": losses.marginal_entropy(
        centred.reshape(-1, k), temperature=temp
      ),
      "teacher_temp": temp,
      "ema_momentum": momentum(step),
    }
    return value, (
      {**extra, "batch_stats": stats, "center": new_center},
      metrics,
    )

  def update_extra(params, extra, step):
    mom = momentum(step)
    teacher = {
      "params": common.ema(extra["teacher"]["params"], params, mom),
      "batch_stats": common.ema(
        extra["teacher"]["batch_stats"], extra["batch_stats"], mom
      ),
    }
    return {**extra, "teacher": teacher}

  def param_labels(params):
    # Official `get_params_groups`: biases and 1-d parameters unregularised.
    # The last layer has no bias; its weight-norm gain (`weight_g`, [K, 1]
    # there, "scale" [K] here) is regularised, so the whole layer decays.
    return common.relabel(
      base.default_param_labels(params),
      ("head", "last_layer"),
      lambda _: "last_layer",
    )

  def features(params, extra, batch):
    images = batch["image"]
    if m.eval_network == "teacher":
      params, stats = (
        extra["teacher"]["params"],
        extra["teacher"]["batch_stats"],
      )
    else:
      stats = extra["batch_stats"]
    feats, _ = multicrop.apply_backbone(
      backbone,
      params["backbone"],
      stats["backbone"],
      [images],
      train=False,
    )
    return feats

  return base.Method(
    name="dino",
    init=init,
    loss=loss,
    features=features,
    update_extra=update_extra,
    param_labels=param_labels,
    param_groups={
      **base.DEFAULT_PARAM_GROUPS,
      "last_layer": base.ParamGroup(
        frozen_until_step=m.freeze_last_layer_steps
      ),
    },
  )


METHOD = base.MethodDef(
  name="dino",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
)
