"""BatchNorm for every jaxssl network, optionally over groups of the batch.

`batch_norm(train)` is Flax's `nn.BatchNorm` with the torchvision settings
(momentum 0.9 in Flax's convention: running = 0.9 * running + 0.1 * batch;
epsilon 1e-5; float32). Under `jit` with a sharded batch its statistics are
those of the whole global batch, as PyTorch's SyncBatchNorm over all
devices.

`batch_norm(train, groups=G)` (`norm.BatchNorm`) normalises each of G
contiguous blocks of the leading axis with that block's own statistics, as
a SyncBatchNorm whose process groups each hold one block: official SwAV
syncs over groups of 8 GPUs (`--syncbn_process_group_size 8`, 512 of its
4096 images). Under `jit` the blocks that live on a set of devices are a
sub-axis of the data axis, so nothing crosses a group. The running
statistics, which PyTorch keeps per process group (the checkpoint holds
rank 0's), are updated with the mean of the groups' batch statistics: the
average of the G estimates of the same population statistics.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

_MOMENTUM = 0.9
_EPSILON = 1e-5


def batch_norm(train: bool, *, groups: int = 1, **kwargs) -> nn.Module:
  """float32 BatchNorm: batch statistics if `train`, else running ones.

  Args:
    train: normalise with the batch statistics and update the running ones.
    groups: 1: statistics of the whole batch (`nn.BatchNorm`); G > 1:
      `BatchNorm` below, each of G contiguous blocks of the leading axis
      with its own statistics.
    **kwargs: `nn.BatchNorm` arguments (name, use_bias, use_scale,
      scale_init, bias_init).
  """
  if groups == 1:
    return nn.BatchNorm(
      use_running_average=not train,
      momentum=_MOMENTUM,
      epsilon=_EPSILON,
      dtype=jnp.float32,
      param_dtype=jnp.float32,
      **kwargs,
    )
  return BatchNorm(groups=groups, use_running_average=not train, **kwargs)


class BatchNorm(nn.Module):
  """BatchNorm with the statistics of each of `groups` blocks of the batch.

  Its variables are those of `nn.BatchNorm` (params "scale" and "bias",
  batch_stats "mean" and "var", all [features]), and so is its class name,
  which Flax uses for automatic module names ("BatchNorm_0", ...):
  checkpoints, parameter groups and evaluation (running statistics) do not
  depend on `groups`.

  Attributes:
    groups: G; the leading axis must be divisible by it.
    use_running_average: normalise with the running statistics (inference).
    momentum: running = momentum * running + (1 - momentum) * batch.
    epsilon: added to the variance.
    use_bias, use_scale: the affine parameters.
    bias_init, scale_init: their initialisers.
  """

  groups: int
  use_running_average: bool = False
  momentum: float = _MOMENTUM
  epsilon: float = _EPSILON
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Callable = nn.initializers.zeros
  scale_init: Callable = nn.initializers.ones

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Normalises `x` [n, ..., features] over all axes but the last."""
    x = jnp.asarray(x, jnp.float32)
    features = x.shape[-1]
    ra_mean = self.variable(
      "batch_stats", "mean", lambda: jnp.zeros(features, jnp.float32)
    )
    ra_var = self.variable(
      "batch_stats", "var", lambda: jnp.ones(features, jnp.float32)
    )
    if self.use_running_average:
      y = (x - ra_mean.value) * jax.lax.rsqrt(ra_var.value + self.epsilon)
    else:
      if self.groups < 1 or x.shape[0] % self.groups:
        raise ValueError(
          f"BatchNorm: the batch of {x.shape[0]} rows does not split "
          f"into groups={self.groups} equal blocks (config.method.bn_groups "
          "must divide the batch of each backbone call)"
        )
      g = x.reshape(self.groups, -1, *x.shape[1:])
      axes = tuple(range(1, g.ndim - 1))
      mean = jnp.mean(g, axis=axes, keepdims=True)
      var = jnp.mean(jnp.square(g - mean), axis=axes, keepdims=True)
      y = ((g - mean) * jax.lax.rsqrt(var + self.epsilon)).reshape(x.shape)
      if not self.is_initializing():
        m = self.momentum
        per_feature = tuple(range(g.ndim - 1))
        ra_mean.value = m * ra_mean.value + (1 - m) * mean.mean(per_feature)
        ra_var.value = m * ra_var.value + (1 - m) * var.mean(per_feature)
    if self.use_scale:
      y = y * self.param("scale", self.scale_init, (features,), jnp.float32)
    if self.use_bias:
      y = y + self.param("bias", self.bias_init, (features,), jnp.float32)
    return y
