"""Prototype heads of the multi-crop clustering / distillation methods.

`DINOHead` is DINO's projection head: an MLP down to a bottleneck, L2
normalisation, then a weight-normalised Linear layer onto K prototypes
(`norm_last_layer`: the weight-norm gain is fixed at 1, so every prototype
is a unit vector). `Prototypes` is SwAV's prototype layer: unit-norm
prototypes scored against L2-normalised embeddings. `SwAVHead` chains a
projector, the L2 normalisation and `Prototypes`.

Both normalise their prototypes inside the forward pass (weight
normalisation, Salimans & Kingma 2016): the stored kernel `v` is used as
`v / ||v||` column by column (one column per prototype).

References:
  Caron et al., Emerging Properties in Self-Supervised Vision Transformers
  (DINO), arXiv:2104.14294; official code facebookresearch/dino,
  `vision_transformer.DINOHead`.
  Caron et al., Unsupervised Learning of Visual Features by Contrasting
  Cluster Assignments (SwAV), arXiv:2006.09882; official code
  facebookresearch/swav (`prototypes`), solo-learn `solo/methods/swav.py`.
  Salimans & Kingma, Weight Normalization, arXiv:1602.07868.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.losses import l2_normalize
from jaxssl.models.norm import batch_norm

# PyTorch nn.Linear's default kernel init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)):
# the official heads keep it for the weight-normalised last layer.
_torch_linear_init = nn.initializers.variance_scaling(
  1 / 3, "fan_in", "uniform"
)
# DINO's `_init_weights`: truncated normal, std 0.02, zero bias.
_dino_dense = nn.initializers.truncated_normal(0.02)


class WeightNormDense(nn.Module):
  """Bias-free Linear layer with weight normalisation per output unit.

  The effective kernel is `g * v / ||v||`, normalised over the input axis
  (each of the `features` columns of the [d_in, features] kernel is a unit
  vector times its gain). PyTorch's `nn.utils.weight_norm(nn.Linear(...))`
  with `weight_g` filled with 1, as in DINO and SwAV.

  Attributes:
    features: number of outputs (prototypes).
    learn_gain: False fixes g = 1 (DINO's `norm_last_layer=True`, SwAV's
      unit prototypes); True adds a learned gain `scale` [features]
      initialised to 1.
  """

  features: int
  learn_gain: bool = False

  def weight(self, d_in: int) -> jax.Array:
    """The effective [d_in, features] kernel."""
    v = self.param(
      "kernel", _torch_linear_init, (d_in, self.features), jnp.float32
    )
    w = l2_normalize(v, axis=0)
    if self.learn_gain:
      w = w * self.param(
        "scale", nn.initializers.ones, (self.features,), jnp.float32
      )
    return w

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = jnp.asarray(x, jnp.float32)
    return x @ self.weight(x.shape[-1])


class DINOHead(nn.Module):
  """DINO's head: MLP -> bottleneck -> L2 normalise -> weight-norm Linear.

  The MLP has `num_layers` Linear layers (in -> hidden, `num_layers - 2`
  times hidden -> hidden, hidden -> bottleneck) with GELU between them and
  optional BatchNorm after each hidden Linear (official `use_bn_in_head`,
  default False); its weights start truncated-normal (std 0.02) with zero
  biases. The last layer is `WeightNormDense` named "last_layer".

  Attributes:
    num_prototypes: K, the output width (official `out_dim`, 65536).
    hidden_dim: MLP width (2048).
    bottleneck_dim: width before the last layer (256).
    num_layers: Linear layers in the MLP (3); 1 gives in -> bottleneck.
    use_bn: BatchNorm after each hidden Linear.
    norm_last_layer: fix the last layer's weight-norm gain at 1.
    bn_groups: with `use_bn`, BatchNorm statistics per contiguous block of
      the batch (`jaxssl.models.norm.batch_norm`).
  """

  num_prototypes: int
  hidden_dim: int = 2048
  bottleneck_dim: int = 256
  num_layers: int = 3
  use_bn: bool = False
  norm_last_layer: bool = True
  bn_groups: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    """Applies the head.

    Args:
      x: [n, d] backbone features.
      train: BatchNorm mode (only with `use_bn`).

    Returns:
      dict with "z": [n, bottleneck_dim] the MLP output before the L2
      normalisation and "logits": [n, num_prototypes].
    """
    if self.num_layers < 1:
      raise ValueError(f"DINOHead num_layers={self.num_layers} must be >= 1")
    x = jnp.asarray(x, jnp.float32)
    for i in range(self.num_layers - 1):
      x = nn.Dense(self.hidden_dim, kernel_init=_dino_dense, name=f"dense{i}")(
        x
      )
      if self.use_bn:
        x = batch_norm(train, groups=self.bn_groups, name=f"bn{i}")(x)
      x = nn.gelu(x, approximate=False)
    z = nn.Dense(
      self.bottleneck_dim,
      kernel_init=_dino_dense,
      name=f"dense{self.num_layers - 1}",
    )(x)
    logits = WeightNormDense(
      self.num_prototypes,
      learn_gain=not self.norm_last_layer,
      name="last_layer",
    )(l2_normalize(z))
    return {"z": z, "logits": logits}


class Prototypes(WeightNormDense):
  """SwAV's prototypes: scores of (L2-normalised) embeddings vs unit vectors.

  The official code projects the prototype matrix back onto the unit sphere
  before every step (`w = normalize(w)` under `no_grad`); here the forward
  uses `v / ||v||` instead (weight normalisation with the gain fixed at 1,
  as solo-learn's SwAV). The scores are identical (unit prototypes in both);
  for the update, the gradient through the normalisation is the official
  gradient projected onto the sphere's tangent plane (the radial part,
  which the official re-projection discards, is removed up front), so one
  SGD step followed by the official re-normalisation agrees to first order
  in the learning rate. Optimizer states that depend on ||v|| (LARS trust
  ratios, weight decay) see the raw `v`; the scores never do.
  """


class SwAVHead(nn.Module):
  """SwAV's head: projector -> L2 normalise -> `Prototypes`.

  Attributes:
    projector: module `(x, *, train) -> [n, d]` (e.g. `models.projector`),
      or None to score the backbone features directly.
    num_prototypes: K (3000 in the paper).
  """

  projector: nn.Module | None
  num_prototypes: int

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    """Applies the head.

    Args:
      x: [n, d] backbone features.
      train: BatchNorm mode of the projector.

    Returns:
      dict with "z": [n, proj_dim] L2-normalised embeddings and "scores":
      [n, num_prototypes] their cosine similarities to the prototypes.
    """
    if self.projector is not None:
      x = self.projector(x, train=train)
    z = l2_normalize(jnp.asarray(x, jnp.float32))
    return {
      "z": z,
      "scores": Prototypes(self.num_prototypes, name="prototypes")(z),
    }
