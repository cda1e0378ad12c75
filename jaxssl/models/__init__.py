"""Flax Linen backbones and heads, and the model registry read by configs.

Every backbone's `__call__(images [n, h, w, 3] float32, *, train)` returns a
dict with at least "feats" [n, d]; params and BatchNorm are float32.

  model = models.Encoder(models.backbone(config.model),
                         models.projector(config.model))
  variables = model.init(rng, images, train=False)
  out, updates = model.apply(variables, images, train=True,
                             mutable=["batch_stats"])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax

from jaxssl.models import resnet, vit
from jaxssl.models.conv import Conv
from jaxssl.models.heads import MLP, Encoder
from jaxssl.models.resnet import ResNet
from jaxssl.models.vit import ViT

if TYPE_CHECKING:
  import ml_collections

__all__ = [
  "BACKBONES",
  "MLP",
  "Conv",
  "Encoder",
  "ResNet",
  "ViT",
  "backbone",
  "num_params",
  "predictor",
  "projector",
]

# name -> factory. ViT factories take `patch_size`; the others take nothing
# from the config. ResNets default to conv_impl="xla", measured as fast or
# faster than "matmul" on CPU (see jaxssl.models.conv).
BACKBONES: dict[str, Callable[..., nn.Module]] = {
  "tiny_resnet": resnet.tiny_resnet,
  "resnet18_cifar": resnet.resnet18_cifar,
  "resnet50_cifar": resnet.resnet50_cifar,
  "resnet50": resnet.resnet50,
  "vit_tiny": vit.vit_tiny,
  "vit_small": vit.vit_small,
  "vit_base": vit.vit_base,
}


def backbone(model_config: ml_collections.ConfigDict) -> nn.Module:
  """Builds `BACKBONES[config.model.name]`.

  Args:
    model_config: the `model` section of the config (reads `name` and, for
      ViTs, `patch_size` and `vit_pool`).

  Returns:
    The backbone module.

  Raises:
    ValueError: unknown name.
  """
  name = model_config.name
  if name not in BACKBONES:
    raise ValueError(
      f"config.model.name={name!r} is not one of {sorted(BACKBONES)}"
    )
  if name.startswith("vit_"):
    return BACKBONES[name](
      patch_size=model_config.patch_size, pool=model_config.vit_pool
    )
  return BACKBONES[name]()


def projector(model_config: ml_collections.ConfigDict) -> MLP | None:
  """The projection MLP: `proj_layers` Linear layers, BN + ReLU between.

  Args:
    model_config: the `model` section (reads proj_hidden_dim, proj_dim,
      proj_layers).

  Returns:
    MLP with `proj_layers - 1` hidden layers of width `proj_hidden_dim` and
    output width `proj_dim`, or None when `proj_layers` is 0.

  Raises:
    ValueError: negative proj_layers.
  """
  layers = model_config.proj_layers
  if layers < 0:
    raise ValueError(
      f"config.model.proj_layers={layers!r} must be >= 0 (0: no projector)"
    )
  if layers == 0:
    return None
  return MLP(
    hidden_dims=(model_config.proj_hidden_dim,) * (layers - 1),
    out_dim=model_config.proj_dim,
    last_bn=model_config.proj_last_bn,
  )


def predictor(model_config: ml_collections.ConfigDict) -> MLP:
  """The predictor MLP of BYOL, SimSiam and MoCo v3: proj_dim -> proj_dim.

  Args:
    model_config: the `model` section (reads pred_hidden_dim, proj_dim,
      pred_last_bn).

  Returns:
    Linear-BN-ReLU of width `pred_hidden_dim`, then Linear to `proj_dim`
    (affine-free BN after it when `pred_last_bn`, as MoCo v3).
  """
  return MLP(
    hidden_dims=(model_config.pred_hidden_dim,),
    out_dim=model_config.proj_dim,
    last_bn=model_config.pred_last_bn,
  )


def num_params(params: Any) -> int:
  """Total number of scalars in a params pytree."""
  return sum(int(x.size) for x in jax.tree.leaves(params))
