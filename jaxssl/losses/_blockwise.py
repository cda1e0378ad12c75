"""Memory-bounded (blockwise) forms of the in-batch contrastive losses.

`nt_xent_blockwise`, `info_nce_blockwise`, `clip_blockwise` and
`siglip_blockwise` equal their dense counterparts in value and gradient, but
never build the [N, N] logits: anchors are processed `block_size` rows at a
time in a `lax.scan` whose body is rematerialised (`jax.checkpoint`), so the
forward and the backward pass both hold one [block_size, N] tile. Peak
memory is O(N·block_size + N·d) instead of O(N²).

Each takes `axis_name` for use inside `jax.shard_map` (the usual setting at
pod scale): the candidate side is all-gathered ([N, d], cheap) and only this
device's anchors are tiled.
"""

import functools

import jax
import jax.numpy as jnp

from jaxssl.losses import _collectives, _common


def _check_block_size(block_size):
  if not isinstance(block_size, int) or block_size < 1:
    raise ValueError(f"`block_size` must be a positive int, got {block_size}.")


def _rowwise_sum(
  anchors, candidates, pos_col, self_col, *, scale, bias, block_size, kind
):
  """Σ over anchors of a per-row loss against all candidates, in tiles.

  Args:
    anchors: [m, d] rows scored by this call.
    candidates: [M, d] columns (all of them, never tiled).
    pos_col: [m] int column of each anchor's positive.
    self_col: [m] int column excluded from the row (-1: none).
    scale: logit multiplier (scalar, may be traced).
    bias: logit offset (scalar, may be traced).
    block_size: anchor rows per tile.
    kind: "softmax" (logsumexp - positive) or "sigmoid" (SigLIP).

  Returns:
    scalar: the summed per-row losses.
  """
  m, d = anchors.shape
  b = min(block_size, m)
  num_blocks = -(-m // b)
  pad = num_blocks * b - m
  valid = jnp.arange(num_blocks * b) < m
  anchors = jnp.pad(anchors, ((0, pad), (0, 0)))
  pos_col = jnp.pad(pos_col, (0, pad))
  self_col = jnp.pad(self_col, (0, pad), constant_values=-1)
  xs = (
    anchors.reshape(num_blocks, b, d),
    pos_col.reshape(num_blocks, b),
    self_col.reshape(num_blocks, b),
    valid.reshape(num_blocks, b),
  )
  cols = jnp.arange(candidates.shape[0])

  @jax.checkpoint
  def block_loss(candidates, scale, bias, a, pos, self_, ok):
    logits = scale * (a @ candidates.T) + bias  # [b, M]: the only big tile
    pos_logit = scale * jnp.sum(a * candidates[pos], axis=-1) + bias
    if kind == "softmax":
      logits = jnp.where(cols[None, :] == self_[:, None], -jnp.inf, logits)
      per_row = jax.nn.logsumexp(logits, axis=1) - pos_logit
    else:  # Σ_j log σ(-l_ij), then flip the sign of the positive term.
      per_row = -(jnp.sum(jax.nn.log_sigmoid(-logits), axis=1) + pos_logit)
    return jnp.sum(jnp.where(ok, per_row, 0.0))

  # A carry-free scan (lax.map): per-block sums come out as ys, so the loop
  # needs no carry whose device-variance would have to match inside
  # shard_map, and the backward pass re-runs one block at a time.
  per_block = jax.lax.map(lambda x: block_loss(candidates, scale, bias, *x), xs)
  return jnp.sum(per_block)


def _local_rows(n, axis_name):
  return jnp.arange(n) + _collectives.row_offset(n, axis_name)


@_common.jit_loss(static=("block_size", "axis_name"), positive=("temperature",))
def nt_xent_blockwise(
  z1: jax.typing.ArrayLike,
  z2: jax.typing.ArrayLike,
  *,
  temperature: float = 0.1,
  block_size: int = 1024,
  axis_name: str | None = None,
) -> jax.Array:
  """`nt_xent` evaluated in [block_size, 2N] tiles (same value and gradient).

  Args:
    z1: [n, d] projections of the first view.
    z2: [n, d] projections of the second view.
    temperature: softmax temperature τ > 0.
    block_size: anchor rows per tile; peak memory ~ block_size · 2N floats.
    axis_name: mesh axis inside `jax.shard_map`; None for the global batch.

  Returns:
    float32 scalar, equal to `nt_xent(z1, z2, temperature=temperature)`.

  Raises:
    ValueError: as `nt_xent`, or for a non-positive `block_size`.

  References:
    Chen et al., SimCLR, arXiv:2002.05709.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> z1 = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> z2 = jnp.array([[1.0, 0.1], [0.1, 1.0], [1.0, 0.9]])
    >>> dense = losses.nt_xent(z1, z2, temperature=0.5)
    >>> tiled = losses.nt_xent_blockwise(z1, z2, temperature=0.5,
    ...                                  block_size=2)
    >>> bool(jnp.allclose(dense, tiled))
    True
  """
  z1, z2 = _common.check_pair(z1, z2)
  _check_block_size(block_size)
  n = z1.shape[0]
  z1, z2 = _common.l2_normalize(z1), _common.l2_normalize(z2)
  candidates = jnp.concatenate(
    [_collectives.gather(z1, axis_name), _collectives.gather(z2, axis_name)]
  )
  big_n = candidates.shape[0] // 2
  anchors = _collectives.unshard_rows(jnp.concatenate([z1, z2]))
  rows = _local_rows(n, axis_name)
  self_col = jnp.concatenate([rows, rows + big_n])
  pos_col = jnp.concatenate([rows + big_n, rows])
  total = _rowwise_sum(
    anchors,
    candidates,
    pos_col,
    self_col,
    scale=1.0 / temperature,
    bias=0.0,
    block_size=block_size,
    kind="softmax",
  )
  return _collectives.global_sum(total, axis_name) / (2 * big_n)


@_common.jit_loss(static=("block_size", "axis_name"), positive=("temperature",))
def info_nce_blockwise(
  query: jax.typing.ArrayLike,
  positive: jax.typing.ArrayLike,
  *,
  temperature: float = 0.07,
  block_size: int = 1024,
  axis_name: str | None = None,
) -> jax.Array:
  """In-batch `info_nce` evaluated in [block_size, N] tiles.

  (With a queue or per-query negatives `info_nce` is already O(N·k).)

  Args:
    query: [n, d] queries.
    positive: [n, d] keys; row i is the positive of `query[i]`.
    temperature: softmax temperature τ > 0.
    block_size: query rows per tile.
    axis_name: mesh axis inside `jax.shard_map`; None for the global batch.

  Returns:
    float32 scalar, equal to `info_nce(query, positive, ...)`.

  Raises:
    ValueError: on wrong shapes or a non-positive `block_size`.

  References:
    van den Oord et al., CPC, arXiv:1807.03748.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> q = jnp.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> loss = losses.info_nce_blockwise(q, q, temperature=1.0, block_size=2)
    >>> bool(jnp.allclose(loss, losses.info_nce(q, q, temperature=1.0)))
    True
  """
  query, positive = _common.check_pair(query, positive, ("query", "positive"))
  _check_block_size(block_size)
  n = query.shape[0]
  keys = _collectives.gather(positive, axis_name)
  rows = _local_rows(n, axis_name)
  total = _rowwise_sum(
    _collectives.unshard_rows(query),
    keys,
    rows,
    jnp.full((n,), -1),
    scale=1.0 / temperature,
    bias=0.0,
    block_size=block_size,
    kind="softmax",
  )
  return _collectives.global_sum(total, axis_name) / keys.shape[0]


@_common.jit_loss(static=("block_size", "axis_name"))
def clip_blockwise(
  image_emb: jax.typing.ArrayLike,
  text_emb: jax.typing.ArrayLike,
  *,
  logit_scale: jax.typing.ArrayLike,
  block_size: int = 1024,
  axis_name: str | None = None,
) -> jax.Array:
  """`clip` evaluated in tiles: image->text rows, then text->image rows.

  Args:
    image_emb: [n, d] image embeddings.
    text_emb: [n, d] text embeddings.
    logit_scale: scalar multiplier (may be traced).
    block_size: rows per tile.
    axis_name: mesh axis inside `jax.shard_map`; None for the global batch.

  Returns:
    float32 scalar, equal to `clip(image_emb, text_emb, ...)`.

  Raises:
    ValueError: on wrong shapes or a non-positive `block_size`.

  References:
    Radford et al., CLIP, arXiv:2103.00020.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> dense = losses.clip(x, x[::-1], logit_scale=3.0)
    >>> tiled = losses.clip_blockwise(x, x[::-1], logit_scale=3.0,
    ...                               block_size=2)
    >>> bool(jnp.allclose(dense, tiled))
    True
  """
  x, y = _common.check_pair(image_emb, text_emb, ("image_emb", "text_emb"))
  _check_block_size(block_size)
  n = x.shape[0]
  scale = jnp.asarray(logit_scale, x.dtype)
  rows = _local_rows(n, axis_name)
  no_self = jnp.full((n,), -1)
  run = functools.partial(
    _rowwise_sum, scale=scale, bias=0.0, block_size=block_size, kind="softmax"
  )
  gx, gy = _collectives.gather(x, axis_name), _collectives.gather(y, axis_name)
  total = run(_collectives.unshard_rows(x), gy, rows, no_self) + run(
    _collectives.unshard_rows(y), gx, rows, no_self
  )
  return 0.5 * _collectives.global_sum(total, axis_name) / gx.shape[0]


@_common.jit_loss(static=("block_size", "axis_name"))
def siglip_blockwise(
  image_emb: jax.typing.ArrayLike,
  text_emb: jax.typing.ArrayLike,
  *,
  t: jax.typing.ArrayLike,
  b: jax.typing.ArrayLike,
  block_size: int = 1024,
  axis_name: str | None = None,
) -> jax.Array:
  """`siglip` evaluated in [block_size, N] tiles.

  Per image row i: -(Σ_j log σ(-l_ij) + l_ii), since
  log σ(l) - log σ(-l) = l turns the positive's term around.

  Args:
    image_emb: [n, d] image embeddings.
    text_emb: [n, d] text embeddings.
    t: scalar temperature multiplier.
    b: scalar bias.
    block_size: image rows per tile.
    axis_name: mesh axis inside `jax.shard_map`; None for the global batch.

  Returns:
    float32 scalar, equal to `siglip(image_emb, text_emb, t=t, b=b)`.

  Raises:
    ValueError: on wrong shapes or a non-positive `block_size`.

  References:
    Zhai et al., SigLIP, arXiv:2303.15343.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import losses
    >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> dense = losses.siglip(x, x, t=10.0, b=-5.0)
    >>> tiled = losses.siglip_blockwise(x, x, t=10.0, b=-5.0, block_size=2)
    >>> bool(jnp.allclose(dense, tiled))
    True
  """
  x, y = _common.check_pair(image_emb, text_emb, ("image_emb", "text_emb"))
  _check_block_size(block_size)
  n = x.shape[0]
  gy = _collectives.gather(y, axis_name)
  total = _rowwise_sum(
    _collectives.unshard_rows(x),
    gy,
    _local_rows(n, axis_name),
    jnp.full((n,), -1),
    scale=jnp.asarray(t, x.dtype),
    bias=jnp.asarray(b, x.dtype),
    block_size=block_size,
    kind="sigmoid",
  )
  return _collectives.global_sum(total, axis_name) / gy.shape[0]
