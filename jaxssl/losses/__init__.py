"""Self-supervised losses as pure JAX functions: `from jaxssl import losses`.

Flat public API (one import path per function; the private modules may move).
Every loss takes arrays first and keyword-only hyper-parameters, returns a
float32 scalar, and with `axis_name` set runs inside `jax.shard_map`.
Diagnostics for the metrics dict (contrastive_accuracy, embedding_std,
mean_entropy, marginal_entropy) sit beside the losses. This package depends
only on JAX.
"""

from jaxssl.losses._blockwise import clip_blockwise
from jaxssl.losses._blockwise import info_nce_blockwise
from jaxssl.losses._blockwise import nt_xent_blockwise
from jaxssl.losses._blockwise import siglip_blockwise
from jaxssl.losses._clustering import sinkhorn
from jaxssl.losses._clustering import swav
from jaxssl.losses._contrastive import clip
from jaxssl.losses._contrastive import info_nce
from jaxssl.losses._contrastive import noise_contrastive
from jaxssl.losses._contrastive import nt_xent
from jaxssl.losses._contrastive import siglip
from jaxssl.losses._contrastive import supcon
from jaxssl.losses._diagnostics import contrastive_accuracy
from jaxssl.losses._diagnostics import embedding_std
from jaxssl.losses._diagnostics import marginal_entropy
from jaxssl.losses._diagnostics import mean_entropy
from jaxssl.losses._distillation import dino
from jaxssl.losses._distillation import dino_center
from jaxssl.losses._distillation import dino_teacher_temp
from jaxssl.losses._masked import mae
from jaxssl.losses._masked import masked_lm
from jaxssl.losses._masked import next_token
from jaxssl.losses._metric import contrastive_pair
from jaxssl.losses._metric import lifted_structured
from jaxssl.losses._metric import n_pairs
from jaxssl.losses._metric import soft_nearest_neighbor
from jaxssl.losses._metric import triplet_all
from jaxssl.losses._metric import triplet_margin
from jaxssl.losses._redundancy import barlow_twins
from jaxssl.losses._redundancy import byol
from jaxssl.losses._redundancy import negative_cosine
from jaxssl.losses._redundancy import vicreg

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
