"""jaxssl.models.norm: BatchNorm over the whole batch or over groups of it.

The reference for the grouped statistics is Flax's own `nn.BatchNorm`
applied to each block on its own (a SyncBatchNorm whose process group holds
one block), and float64 NumPy for the running statistics.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import models
from jaxssl.models import norm


def _x(shape=(12, 3, 3, 5), seed=0):
  rng = np.random.default_rng(seed)
  return jnp.asarray(rng.normal(2.0, 3.0, shape), jnp.float32)


def _train(module, x):
  variables = module.init(jax.random.key(0), x)
  y, new = module.apply(variables, x, mutable=["batch_stats"])
  return variables, y, new["batch_stats"]


def test_one_group_equals_flax_batch_norm():
  x = _x()
  flax_bn = norm.batch_norm(True)
  assert isinstance(flax_bn, nn.BatchNorm)
  ref_vars, ref_y, ref_stats = _train(flax_bn, x)
  ours = norm.BatchNorm(groups=1)
  our_vars, y, stats = _train(ours, x)
  assert jax.tree.structure(our_vars) == jax.tree.structure(ref_vars)
  np.testing.assert_allclose(y, ref_y, atol=2e-5)
  for key in ("mean", "var"):
    np.testing.assert_allclose(stats[key], ref_stats[key], atol=2e-5)


def test_groups_normalise_each_block_with_its_own_statistics():
  groups, x = 4, _x()
  _, y, stats = _train(norm.batch_norm(True, groups=groups), x)
  blocks = np.split(np.asarray(x, np.float64), groups)
  flax_bn = norm.batch_norm(True)
  means, variances = [], []
  for i, block in enumerate(blocks):
    _, ref_y, _ = _train(flax_bn, jnp.asarray(block, jnp.float32))
    np.testing.assert_allclose(y[3 * i : 3 * (i + 1)], ref_y, atol=2e-5)
    means.append(block.mean(axis=(0, 1, 2)))
    variances.append(block.var(axis=(0, 1, 2)))  # biased, as Flax's
  # Running statistics: one momentum-0.9 update with the groups' mean.
  np.testing.assert_allclose(
    stats["mean"], 0.1 * np.mean(means, 0), rtol=1e-5, atol=1e-6
  )
  np.testing.assert_allclose(
    stats["var"], 0.9 + 0.1 * np.mean(variances, 0), rtol=1e-5
  )


def test_inference_uses_the_running_statistics():
  x = _x()
  module = norm.batch_norm(True, groups=3)
  variables, _, stats = _train(module, x)
  variables = {"params": variables["params"], "batch_stats": stats}
  y = norm.batch_norm(False, groups=3).apply(variables, x)
  ref = (x - stats["mean"]) / np.sqrt(stats["var"] + 1e-5)
  np.testing.assert_allclose(y, ref, atol=1e-5)


def test_indivisible_batch_names_the_config_key():
  with pytest.raises(ValueError, match="config.method.bn_groups"):
    norm.BatchNorm(groups=5).init(jax.random.key(0), _x())


def test_grouped_resnet_and_mlp_keep_the_variable_names():
  x = _x((8, 16, 16, 3))
  for name in ("tiny_resnet",):
    plain = models.backbone(name)
    vars_plain = plain.init(jax.random.key(0), x, train=False)
    vars_grouped = plain.clone(bn_groups=4).init(
      jax.random.key(0), x, train=False
    )
    assert jax.tree.structure(vars_plain) == jax.tree.structure(vars_grouped)
    # Different statistics in training mode: grouping changes the output.
    a = plain.apply(vars_plain, x, train=True, mutable=["batch_stats"])[0]
    b = plain.clone(bn_groups=4).apply(
      vars_plain, x, train=True, mutable=["batch_stats"]
    )[0]
    assert not np.allclose(a["feats"], b["feats"], atol=1e-4)
  head = models.projector(num_layers=2, hidden_dim=8, out_dim=4, last_bn=True)
  feats = _x((8, 6))
  vars_head = head.init(jax.random.key(0), feats, train=False)
  grouped = head.clone(bn_groups=2).init(jax.random.key(0), feats, train=False)
  assert jax.tree.structure(vars_head) == jax.tree.structure(grouped)
