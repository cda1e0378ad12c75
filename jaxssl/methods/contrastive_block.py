"""`config.method.loss_block`: in-batch contrastive losses in tiles, per device.

The dense losses (`losses.clip`, `siglip`, `nt_xent`, `info_nce`) see the
global batch and build its [N, N] logits; under `jit` over the mesh XLA
splits them by rows, so each device still holds an [N / D, N] tile and its
gradient, which grows as N² / D. With `loss_block` = k > 0 a method calls
the functions here instead: the loss runs inside `jax.shard_map` over the
mesh's "data" axis, each device takes its own n = N / D rows of the
embeddings, all-gathers the candidate side ([N, e], cheap) and scores its
anchors k rows at a time (`losses.*_blockwise`, a rematerialised scan): one
[k, N] tile at a time in the forward and the backward pass. The value and
the gradient equal the dense loss's (up to float summation order); n need
not divide by k (the last tile is padded and masked). The positive-pair
accuracies the methods log are computed in the same tiles.

The mesh is not passed in: under `jit`, an array's abstract type carries the
mesh it is sharded over (`jax.typeof(x).sharding.mesh`), and a mesh set with
`jax.sharding.use_abstract_mesh` / `jax.set_mesh` takes precedence, so the
training loop needs no hook. Outside any mesh (a plain call on one device)
the blockwise loss runs on the global batch, without shard_map.

Gradients are taken outside the shard_map by the step's `value_and_grad`;
the replicated scalars (CLIP's logit scale, SigLIP's t and b) get the sum
over devices of their per-device gradients from shard_map's transpose,
which is the dense gradient (no `pmean` on top).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from jaxssl import losses

# The batch axis of the training mesh (`jaxssl.train.mesh.DATA`; methods do
# not import the training package).
DATA_AXIS = "data"


def check(config) -> None:
  """`config.method.loss_block` must be an int >= 0 (0: the dense loss)."""
  value = config.method.loss_block
  if isinstance(value, bool) or not isinstance(value, int) or value < 0:
    raise ValueError(
      f"config.method.loss_block={value!r} must be an int >= 0 (0: the dense "
      "loss; k > 0: anchors k rows at a time per device)"
    )


def data_mesh(*arrays: jax.Array):
  """The (abstract) mesh with a "data" axis the arrays live on, or None.

  The context mesh (`jax.sharding.get_abstract_mesh()`) if it has a "data"
  axis; else the mesh in the abstract type of the first array that carries
  one (under `jit`, arrays derived from inputs sharded over a mesh carry
  it, Auto axes included); else None.
  """
  meshes = [jax.sharding.get_abstract_mesh()]
  for x in arrays:
    sharding = getattr(jax.typeof(x), "sharding", None)
    meshes.append(getattr(sharding, "mesh", None))
  for mesh in meshes:
    if mesh is not None and not mesh.empty and DATA_AXIS in mesh.axis_names:
      return mesh
  return None


def per_device(
  fn: Callable[..., Any], rows: tuple[jax.Array, ...], scalars: tuple = ()
) -> Any:
  """`fn(rows, scalars, axis_name)` on each device's rows of the batch.

  Args:
    fn: returns a pytree of scalars that are equal on every device (sums
      over `axis_name`); called with `axis_name=None` and the global rows
      when there is no mesh.
    rows: [N, ...] arrays split over the mesh's "data" axis by their first
      dimension.
    scalars: replicated arrays (learned temperatures), passed whole.

  Raises:
    ValueError: if N does not divide by the size of the "data" axis.
  """
  mesh = data_mesh(*rows)
  if mesh is None:
    return fn(rows, scalars, None)
  size = mesh.shape[DATA_AXIS]
  for x in rows:
    if x.shape[0] % size:
      raise ValueError(
        f"config.method.loss_block: the batch of {x.shape[0]} rows does not "
        f"split over the mesh's {DATA_AXIS!r} axis of {size} devices"
      )
  return jax.shard_map(
    lambda r, s: fn(r, s, DATA_AXIS),
    mesh=mesh,
    in_specs=(P(DATA_AXIS), P()),
    out_specs=P(),
  )(tuple(rows), tuple(scalars))


def _gather(x, axis_name):
  if axis_name is None:
    return x
  return jax.lax.all_gather(x, axis_name, axis=0, tiled=True)


def _offset(n, axis_name):
  if axis_name is None:
    return 0
  return jax.lax.axis_index(axis_name) * n


def _sum(x, axis_name):
  return x if axis_name is None else jax.lax.psum(x, axis_name)


def top1_hits(anchors, candidates, pos_col, self_col, *, block_size):
  """How many anchors' most similar candidate (column `self_col` excluded,
  -1: none) is column `pos_col`, scored `block_size` rows at a time.

  Args:
    anchors: [m, e] rows; candidates: [M, e] columns.
    pos_col, self_col: int [m].
    block_size: anchor rows per [block_size, M] similarity tile.

  Returns:
    int32 scalar; the first maximum wins ties, as `jnp.argmax`.
  """
  anchors = jax.lax.stop_gradient(anchors)
  candidates = jax.lax.stop_gradient(candidates)
  m, e = anchors.shape
  b = min(block_size, m)
  num = -(-m // b)
  pad = num * b - m
  xs = (
    jnp.pad(anchors, ((0, pad), (0, 0))).reshape(num, b, e),
    jnp.pad(pos_col, (0, pad)).reshape(num, b),
    jnp.pad(self_col, (0, pad), constant_values=-1).reshape(num, b),
    (jnp.arange(num * b) < m).reshape(num, b),
  )
  cols = jnp.arange(candidates.shape[0])

  def block(x):
    a, pos, self_, ok = x
    sims = a @ candidates.T
    sims = jnp.where(cols[None, :] == self_[:, None], -jnp.inf, sims)
    hit = (jnp.argmax(sims, axis=1) == pos) & ok
    return jnp.sum(hit.astype(jnp.int32))

  return jnp.sum(jax.lax.map(block, xs))


def _paired_accuracy(x, y, axis_name, block_size):
  """Fraction of the N rows of x whose most similar row of y is its pair."""
  n = x.shape[0]
  rows = jnp.arange(n) + _offset(n, axis_name)
  gy = _gather(y, axis_name)
  hits = top1_hits(x, gy, rows, jnp.full((n,), -1), block_size=block_size)
  return (_sum(hits, axis_name) / gy.shape[0]).astype(jnp.float32)


def clip(image_emb, text_emb, *, logit_scale, block_size):
  """(`losses.clip`, i2t accuracy) in tiles of `block_size` rows per device.

  i2t accuracy: how often an image's most similar text of the global batch
  is its own (the first maximum on ties).
  """

  def fn(rows, scalars, axis_name):
    (x, y), (scale,) = rows, scalars
    value = losses.clip_blockwise(
      x, y, logit_scale=scale, block_size=block_size, axis_name=axis_name
    )
    return value, _paired_accuracy(x, y, axis_name, block_size)

  return per_device(fn, (image_emb, text_emb), (logit_scale,))


def siglip(image_emb, text_emb, *, t, b, block_size):
  """(`losses.siglip`, i2t accuracy) in tiles, as `clip`."""

  def fn(rows, scalars, axis_name):
    (x, y), (t_, b_) = rows, scalars
    value = losses.siglip_blockwise(
      x, y, t=t_, b=b_, block_size=block_size, axis_name=axis_name
    )
    return value, _paired_accuracy(x, y, axis_name, block_size)

  return per_device(fn, (image_emb, text_emb), (t, b))


def nt_xent(z1, z2, *, temperature, block_size):
  """`losses.nt_xent` in tiles of `block_size` anchors per device."""

  def fn(rows, scalars, axis_name):
    del scalars
    return losses.nt_xent_blockwise(
      *rows, temperature=temperature, block_size=block_size, axis_name=axis_name
    )

  return per_device(fn, (z1, z2))


def info_nce(query, positive, *, temperature, block_size):
  """(`losses.info_nce` with in-batch negatives, `losses.contrastive_accuracy`
  of the pair) in tiles of `block_size` rows per device."""

  def fn(rows, scalars, axis_name):
    del scalars
    q, k = rows
    value = losses.info_nce_blockwise(
      q, k, temperature=temperature, block_size=block_size, axis_name=axis_name
    )
    # contrastive_accuracy: each of the 2N normalised embeddings against the
    # other 2N - 1, its pair the hit.
    q = q / jnp.maximum(jnp.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    k = k / jnp.maximum(jnp.linalg.norm(k, axis=-1, keepdims=True), 1e-12)
    n = q.shape[0]
    candidates = jnp.concatenate([_gather(q, axis_name), _gather(k, axis_name)])
    big_n = candidates.shape[0] // 2
    local = jnp.arange(n) + _offset(n, axis_name)
    hits = top1_hits(
      jnp.concatenate([q, k]),
      candidates,
      jnp.concatenate([local + big_n, local]),
      jnp.concatenate([local, local + big_n]),
      block_size=block_size,
    )
    return value, (_sum(hits, axis_name) / (2 * big_n)).astype(jnp.float32)

  return per_device(fn, (query, positive))
