"""Flax Linen backbones and heads, and the backbone registry.

Text models (`TEXT_MODELS`, `text_model`: the BERT encoder and the GPT-2
decoder of `jaxssl.models.text`) take `(tokens [n, l] int, is_pad [n, l]
bool, *, train, logits=False)` and return "tokens", "feats" and, with
`logits`, "logits".

Every backbone's `__call__(images [n, h, w, 3] float32, *, train)` returns a
dict with at least "feats" [n, d]; params and BatchNorm are float32. The
functions here take plain arguments; `jaxssl.methods.common` is the one
place that turns `config.model` into these calls.

  model = models.Encoder(
      models.backbone("vit_small", patch_size=16),
      models.projector(num_layers=2, hidden_dim=2048, out_dim=128))
  variables = model.init(rng, images, train=False)
  out, updates = model.apply(variables, images, train=True,
                             mutable=["batch_stats"])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.models import resnet, vit
from jaxssl.models.conv import Conv
from jaxssl.models.heads import MLP, CosineClassifier, Encoder
from jaxssl.models.resnet import ResNet
from jaxssl.models.text import TEXT_MODELS, TextTransformer
from jaxssl.models.vit import ViT

__all__ = [
  "BACKBONES",
  "MLP",
  "TEXT_MODELS",
  "Conv",
  "CosineClassifier",
  "Encoder",
  "ResNet",
  "TextTransformer",
  "ViT",
  "backbone",
  "num_params",
  "predictor",
  "projector",
  "text_model",
]

# name -> factory; `backbone(name, ...)` builds one. ViT factories take
# `patch_size`, `pool` and `pos_embed`; the others take no argument. ResNets
# default to conv_impl="xla", measured as fast or faster than "matmul" on CPU
# (see jaxssl.models.conv).
BACKBONES: dict[str, Callable[..., nn.Module]] = {
  "tiny_resnet": resnet.tiny_resnet,
  "resnet18_cifar": resnet.resnet18_cifar,
  "resnet50_cifar": resnet.resnet50_cifar,
  "resnet50": resnet.resnet50,
  "vit_tiny": vit.vit_tiny,
  "vit_small": vit.vit_small,
  "vit_base": vit.vit_base,
}


def backbone(
  name: str,
  *,
  patch_size: int = 16,
  pool: str = "cls",
  pos_embed: str = "learned",
  remat: bool = False,
  dtype: str = "float32",
  conv_impl: str | None = None,
  zero_init_residual: bool = False,
) -> nn.Module:
  """Builds the backbone `BACKBONES[name]`.

  Every backbone class says its kind in a class attribute `kind`: "conv"
  (`ResNet`) or "vit" (`ViT`); code that depends on it reads
  `backbone(name).kind`.

  Args:
    name: a `BACKBONES` name.
    patch_size: ViTs: side of the square patches.
    pool: ViTs: features are the "cls" token or the "mean" patch token.
    pos_embed: ViTs: "learned" or fixed "sincos" position embeddings.
      The ViT arguments are ignored by convolutional backbones.
    remat: rematerialise each residual / Transformer block in the backward
      pass (`nn.remat`); the same params and values.
    dtype: compute dtype, "float32" or "bfloat16" (ResNets: bf16
      convolutions with float32 accumulation, float32 params and BatchNorm;
      see `jaxssl.models.resnet.ResNet`).
    conv_impl: ResNets: "xla", "matmul" or "auto" (`jaxssl.models.conv`);
      None keeps the factory's default ("xla").
    zero_init_residual: ResNets: every residual block's last BatchNorm
      scale starts at 0 instead of 1 (`jaxssl.models.resnet.ResNet`).

  Returns:
    The backbone module.

  Raises:
    ValueError: unknown name, or a dtype the backbone does not implement.
  """
  if name not in BACKBONES:
    raise ValueError(f"backbone {name!r} is not one of {sorted(BACKBONES)}")
  if dtype not in ("float32", "bfloat16"):
    raise ValueError(f"backbone dtype={dtype!r}: 'float32' or 'bfloat16'")
  module = BACKBONES[name]()
  if module.kind == "conv":
    if dtype != "float32":
      module = module.clone(dtype=jnp.dtype(dtype))
    if conv_impl is not None:
      module = module.clone(conv_impl=conv_impl)
    if zero_init_residual:
      module = module.clone(zero_init_residual=True)
  elif dtype != "float32":
    raise ValueError(
      f"backbone {name!r}: dtype={dtype!r} is implemented for ResNets only"
    )
  if remat:
    module = module.clone(remat=True)
  if module.kind == "vit":
    module = module.clone(patch_size=patch_size, pool=pool, pos_embed=pos_embed)
  return module


def text_model(name: str, vocab_size: int, **kwargs) -> TextTransformer:
  """Builds the text model `TEXT_MODELS[name]` over `vocab_size` tokens.

  Args:
    name: a `TEXT_MODELS` name (bert_tiny ... bert_base, gpt2_tiny ...
      gpt2_medium).
    vocab_size: rows of the (tied) token embedding.
    **kwargs: `TextTransformer` attributes to override (dropout, pool,
      pre_ln, max_len, ...).

  Raises:
    ValueError: unknown name.
  """
  if name not in TEXT_MODELS:
    raise ValueError(f"text model {name!r} is not one of {sorted(TEXT_MODELS)}")
  return TEXT_MODELS[name](vocab_size, **kwargs)


def projector(
  *,
  num_layers: int,
  hidden_dim: int,
  out_dim: int,
  use_bn: bool = True,
  last_bn: bool = False,
  dtype: str = "float32",
) -> MLP | None:
  """The projection MLP: `num_layers` Linear layers, (BN +) ReLU between.

  Args:
    num_layers: Linear layers; 0 gives no projector.
    hidden_dim: width of the `num_layers - 1` hidden layers.
    out_dim: output width.
    use_bn: BatchNorm after each hidden Linear (SimCLR's official head);
      False: Linear (with bias)-ReLU-...-Linear (solo-learn's SimCLR and
      SupCon projectors).
    last_bn: affine-free BatchNorm on the output (SimSiam, MoCo v3).
    dtype: compute dtype of the Linear layers, "float32" or "bfloat16"
      (`MLP.dtype`).

  Returns:
    MLP with `num_layers - 1` hidden layers of width `hidden_dim` and output
    width `out_dim`, or None when `num_layers` is 0.

  Raises:
    ValueError: negative num_layers.
  """
  if num_layers < 0:
    raise ValueError(
      f"projector num_layers={num_layers!r} must be >= 0 (0: no projector)"
    )
  if num_layers == 0:
    return None
  return MLP(
    hidden_dims=(hidden_dim,) * (num_layers - 1),
    out_dim=out_dim,
    use_bn=use_bn,
    last_bn=last_bn,
    dtype=jnp.dtype(dtype),
  )


def predictor(
  *,
  hidden_dim: int,
  out_dim: int,
  last_bn: bool = False,
  dtype: str = "float32",
) -> MLP:
  """The predictor MLP of BYOL, SimSiam and MoCo v3.

  Args:
    hidden_dim: width of its one hidden layer.
    out_dim: output width (the projector's, so it predicts projections).
    last_bn: affine-free BatchNorm on the output (MoCo v3).
    dtype: compute dtype of the Linear layers (`MLP.dtype`).

  Returns:
    Linear-BN-ReLU of width `hidden_dim`, then Linear to `out_dim`.
  """
  return MLP(
    hidden_dims=(hidden_dim,),
    out_dim=out_dim,
    last_bn=last_bn,
    dtype=jnp.dtype(dtype),
  )


def num_params(params: Any) -> int:
  """Total number of scalars in a params pytree."""
  return sum(int(x.size) for x in jax.tree.leaves(params))
