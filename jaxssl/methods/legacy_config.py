"""The `config.method` keys the first ten methods still share.

Until each method file owns its keys (`MethodDef.config`), these methods
register this one section: the union of their hyper-parameters, as
`base_config().method` held it. A method that owns its keys does not use
this module.
"""

from __future__ import annotations

import ml_collections


def config() -> ml_collections.ConfigDict:
  """The shared method keys and their defaults (no `name`)."""
  m = ml_collections.ConfigDict()
  m.temperature = 0.1  # SimCLR, MoCo v3, SupCon, SwAV
  # EMA teacher (BYOL, MoCo v3, DINO): momentum per step, cosine from
  # `ema_momentum` at step 0 to `ema_momentum_end` at train.total_steps.
  m.ema_momentum = 0.996
  m.ema_momentum_end = 1.0
  # Prototype heads (DINO, SwAV).
  m.num_prototypes = 65536  # DINO's K / SwAV's prototypes
  m.head_hidden_dim = 2048  # DINO head MLP width
  m.head_bottleneck_dim = 256
  m.head_layers = 3  # DINO head Linear layers before the last
  m.norm_last_layer = True  # DINO: weight-norm gain fixed at 1
  m.freeze_last_layer_steps = 0  # DINO last layer / SwAV prototypes
  # DINO temperatures and centring.
  m.student_temp = 0.1
  m.teacher_temp = 0.04  # linear warm-up from this ...
  m.teacher_temp_end = 0.07  # ... to this, then constant
  m.teacher_temp_warmup_steps = 0
  m.center_momentum = 0.9
  # SwAV: Sinkhorn-Knopp and the optional feature queue.
  m.sinkhorn_iters = 3
  m.sinkhorn_epsilon = 0.05
  m.queue_size = 0  # 0: no queue
  m.queue_start_steps = 0  # use the queue from this step on
  # SimSiam: predictor at the constant peak lr (official --fix-pred-lr).
  m.fixed_predictor_lr = False
  # MoCo v3, ViTs: frozen random patch projection (--stop-grad-conv1).
  m.freeze_patch_embed = False
  # Barlow Twins.
  m.barlow_lambda = 5e-3  # off-diagonal weight
  m.barlow_scale = 1.0  # overall loss scale (solo-learn: 0.1)
  # VICReg coefficients.
  m.vicreg_sim = 25.0
  m.vicreg_std = 25.0
  m.vicreg_cov = 1.0
  # MAE.
  m.mask_ratio = 0.75
  m.norm_pix_loss = True
  m.decoder_dim = 512
  m.decoder_depth = 8
  m.decoder_heads = 16
  return m


def check(config) -> None:
  """The check every method sharing this section had in `validate`."""
  if config.method.temperature <= 0:
    raise ValueError(
      f"config.method.temperature={config.method.temperature!r}: must be > 0"
    )


def smoke(m) -> None:
  """Shrinks the shared method keys for a seconds-long run."""
  m.num_prototypes = min(m.num_prototypes, 64)
  m.head_hidden_dim = min(m.head_hidden_dim, 64)
  m.head_bottleneck_dim = min(m.head_bottleneck_dim, 32)
  m.queue_size = min(m.queue_size, 32)
  m.decoder_dim = min(m.decoder_dim, 32)
  m.decoder_depth = min(m.decoder_depth, 1)
  m.decoder_heads = min(m.decoder_heads, 2)
