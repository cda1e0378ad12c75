"""Blockwise losses equal the dense ones (value and gradient) and their
compiled peak memory grows like N·block, not N²."""

import functools

import jax
import jax.numpy as jnp
import losses_testing as lt
import numpy as np
import pytest

from jaxssl import losses


def _pair(seed, n, d=4):
  x, y = np.random.default_rng(seed).normal(size=(2, n, d))
  return x.astype(np.float32), y.astype(np.float32)


# (blockwise, dense) with the scalar hyper-parameters passed as arguments so
# their gradients are compared too.
CASES = {
  "nt_xent": (
    lambda x, y, s, bs, ax=None: losses.nt_xent_blockwise(
      x, y, temperature=0.3, block_size=bs, axis_name=ax
    ),
    lambda x, y, s: losses.nt_xent(x, y, temperature=0.3),
  ),
  "info_nce": (
    lambda x, y, s, bs, ax=None: losses.info_nce_blockwise(
      x, y, temperature=0.5, block_size=bs, axis_name=ax
    ),
    lambda x, y, s: losses.info_nce(x, y, temperature=0.5),
  ),
  "clip": (
    lambda x, y, s, bs, ax=None: losses.clip_blockwise(
      x, y, logit_scale=s, block_size=bs, axis_name=ax
    ),
    lambda x, y, s: losses.clip(x, y, logit_scale=s),
  ),
  "siglip": (
    lambda x, y, s, bs, ax=None: losses.siglip_blockwise(
      x, y, t=s, b=-0.5 * s, block_size=bs, axis_name=ax
    ),
    lambda x, y, s: losses.siglip(x, y, t=s, b=-0.5 * s),
  ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_equals_dense(name):
  blockwise, dense = CASES[name]
  x, y = _pair(0, 7)
  scale = np.float32(2.0)
  grad_dense = jax.jit(jax.value_and_grad(dense, argnums=(0, 1, 2)))
  want = grad_dense(x, y, scale)
  for block_size in (3, 64):  # pads (7 = 3 + 3 + 1), one block larger than n
    got = jax.jit(
      jax.value_and_grad(
        functools.partial(blockwise, bs=block_size), argnums=(0, 1, 2)
      )
    )(x, y, scale)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    for g, w in zip(got[1], want[1]):
      np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharded_equivalence(devices, name):
  """shard_map(axis_name) and global-jit forms vs the 1-device dense loss."""
  del devices
  blockwise, dense = CASES[name]
  x, y = _pair(1, 16)
  w = (np.eye(4) + 0.1).astype(np.float32)

  def make_loss(axis_name):
    return lambda w, x, y: blockwise(x @ w, y @ w, 2.0, 3, axis_name)

  lt.assert_sharded_equivalent(make_loss, w, [x, y], rtol=1e-4, atol=1e-5)
  # The 1-device blockwise reference above equals the dense loss.
  got = jax.jit(jax.value_and_grad(make_loss(None)))(w, x, y)
  want = jax.jit(jax.value_and_grad(lambda w, x, y: dense(x @ w, y @ w, 2.0)))(
    w, x, y
  )
  np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
  np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-6)


def test_bf16_and_errors():
  x, y = _pair(2, 8, 16)
  lt.assert_bf16_gives_f32(
    lambda x, y: losses.nt_xent_blockwise(x, y, block_size=3), (x, y)
  )
  with pytest.raises(ValueError, match="block_size"):
    losses.clip_blockwise(x, y, logit_scale=1.0, block_size=0)
  with pytest.raises(ValueError, match=r"`z1` and `z2`"):
    losses.nt_xent_blockwise(x, y[:3])


def _temp_bytes(fn, n, d):
  spec = jax.ShapeDtypeStruct((n, d), jnp.float32)
  compiled = (
    jax.jit(jax.value_and_grad(fn, argnums=(0, 1))).lower(spec, spec).compile()
  )
  return compiled.memory_analysis().temp_size_in_bytes


def test_peak_memory_is_bounded():
  n, d, block = 2048, 8, 128
  dense = _temp_bytes(losses.nt_xent, n, d)
  tiled = _temp_bytes(
    functools.partial(losses.nt_xent_blockwise, block_size=block), n, d
  )
  # Dense holds several [2N, 2N] float32 buffers (64 MiB each); the tiled
  # form a few [block, 2N] tiles (2 MiB each) plus O(N·d).
  assert dense > (2 * n) ** 2 * 4
  assert tiled < 8 * block * 2 * n * 4, (dense, tiled)
