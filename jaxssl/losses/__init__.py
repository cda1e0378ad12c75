"""Self-supervised losses as pure JAX functions: `from jaxssl import losses`.

Flat public API (one import path per function; the private modules may move).
Every loss takes arrays first and keyword-only hyper-parameters, returns a
float32 scalar, and with `axis_name` set runs inside `jax.shard_map`.
Diagnostics for the metrics dict (contrastive_accuracy, embedding_std,
mean_entropy, marginal_entropy) and `l2_normalize` (the one the losses use)
sit beside the losses. This package depends only on JAX.
"""

from jaxssl.losses._blockwise import (
  clip_blockwise,
  info_nce_blockwise,
  nt_xent_blockwise,
  siglip_blockwise,
)
from jaxssl.losses._clustering import sinkhorn, swav
from jaxssl.losses._common import l2_normalize
from jaxssl.losses._contrastive import (
  clip,
  info_nce,
  noise_contrastive,
  nt_xent,
  siglip,
  supcon,
)
from jaxssl.losses._diagnostics import (
  contrastive_accuracy,
  embedding_std,
  marginal_entropy,
  mean_entropy,
)
from jaxssl.losses._distillation import dino, dino_center, dino_teacher_temp
from jaxssl.losses._masked import mae, masked_lm, next_token
from jaxssl.losses._metric import (
  contrastive_pair,
  lifted_structured,
  n_pairs,
  soft_nearest_neighbor,
  triplet_all,
  triplet_margin,
)
from jaxssl.losses._redundancy import (
  barlow_twins,
  byol,
  negative_cosine,
  vicreg,
)

__all__ = [
  "barlow_twins",
  "byol",
  "clip",
  "clip_blockwise",
  "contrastive_accuracy",
  "contrastive_pair",
  "dino",
  "dino_center",
  "dino_teacher_temp",
  "embedding_std",
  "info_nce",
  "info_nce_blockwise",
  "l2_normalize",
  "lifted_structured",
  "mae",
  "marginal_entropy",
  "masked_lm",
  "mean_entropy",
  "n_pairs",
  "negative_cosine",
  "next_token",
  "noise_contrastive",
  "nt_xent",
  "nt_xent_blockwise",
  "siglip",
  "siglip_blockwise",
  "sinkhorn",
  "soft_nearest_neighbor",
  "supcon",
  "swav",
  "triplet_all",
  "triplet_margin",
  "vicreg",
]
