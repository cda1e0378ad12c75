"""`remat=True` (nn.remat per block) changes memory, not numerics or params.

For the ViT, the MAE decoder, the text Transformer (dropout on) and the
ResNet (BatchNorm statistics updated): the same parameter tree, the same
outputs and the same gradients as without remat.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import models
from jaxssl.models import mae_decoder, resnet, text, vit


def _check(make, inputs, *, mutable=(), rngs=None, **kwargs):
  plain, remat = make(False), make(True)
  variables = plain.init(jax.random.key(0), *inputs, **kwargs)
  again = remat.init(jax.random.key(0), *inputs, **kwargs)
  # Same tree and values: a checkpoint of one restores into the other.
  jax.tree.map(np.testing.assert_array_equal, again, variables)

  def loss(module, params):
    extra = {"mutable": list(mutable)} if mutable else {}
    out = module.apply(
      {**variables, "params": params}, *inputs, rngs=rngs, **extra, **kwargs
    )
    out, updates = out if mutable else (out, {})
    y = out if isinstance(out, jax.Array) else out["feats"]
    return jnp.sum(jnp.sin(y)), (y, updates)

  results = []
  for module in (plain, remat):
    fn = jax.value_and_grad(lambda p, m=module: loss(m, p), has_aux=True)
    fn = jax.jit(fn)
    results.append(fn(variables["params"]))
  (l0, (y0, u0)), g0 = results[0]
  (l1, (y1, u1)), g1 = results[1]
  # Equal up to float reassociation inside the fused recomputation.
  np.testing.assert_allclose(y1, y0, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(l1, l0, rtol=1e-5)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), g1, g0
  )
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), u1, u0
  )
  return g0


def test_vit_remat_same_numerics():
  images = jax.random.normal(jax.random.key(1), (2, 16, 16, 3))
  g = _check(
    lambda r: vit.ViT(16, 2, 2, patch_size=8, remat=r), (images,), train=True
  )
  assert set(g) >= {"block0", "block1"}


def test_mae_decoder_remat_same_numerics():
  n, l, keep = 2, 4, 2
  cls = jax.random.normal(jax.random.key(1), (n, 8))
  tokens = jax.random.normal(jax.random.key(2), (n, keep, 8))
  ids_restore = jnp.tile(jnp.arange(l)[None], (n, 1))
  _check(
    lambda r: mae_decoder.MAEDecoder(
      width=8, depth=2, num_heads=2, patch_dim=12, remat=r
    ),
    (cls, tokens, ids_restore),
  )


@pytest.mark.parametrize("causal", [False, True])
def test_text_remat_same_numerics_with_dropout(causal):
  tokens = jax.random.randint(jax.random.key(1), (2, 6), 0, 30)
  is_pad = jnp.zeros((2, 6), bool).at[0, 4:].set(True)
  _check(
    lambda r: text.TextTransformer(
      30, 16, 2, 2, max_len=8, causal=causal, pre_ln=causal, remat=r
    ),
    (tokens, is_pad),
    rngs={"dropout": jax.random.key(3)},
    train=True,
  )


@pytest.mark.slow  # two block kinds, four compiles
def test_resnet_remat_same_numerics_and_batch_stats():
  images = jax.random.normal(jax.random.key(1), (4, 16, 16, 3))
  for block in ("basic", "bottleneck"):
    _check(
      lambda r, b=block: resnet.ResNet(
        (1, 1), widths=(8, 16), block=b, stem_width=8, remat=r
      ),
      (images,),
      mutable=("batch_stats",),
      train=True,
    )


def test_backbone_passes_remat():
  assert models.backbone("vit_tiny", remat=True).remat
  assert models.backbone("tiny_resnet", remat=True).remat
  assert not models.backbone("vit_tiny").remat
  assert isinstance(models.backbone("tiny_resnet"), nn.Module)
