"""Cross-device helpers for losses that take `axis_name`.

Every function here is the identity (or a no-op offset) when `axis_name` is
None, so a loss is written once for the global batch and gains its
shard_map form by routing its gathers and sums through these helpers.
Gradients are left to JAX: `all_gather` transposes to a reduce-scatter and
`psum` of a device-varying value to a broadcast, so no `pmean` of gradients is
ever needed (or allowed) on top.
"""

import jax
import jax.numpy as jnp


def gather(x: jax.Array, axis_name: str | None) -> jax.Array:
  """Concatenates the `[n, ...]` shards of `x` into the global `[N, ...]`.

  With `axis_name=None`, `x` already is the global batch; it is only
  un-sharded along rows if it carries an Explicit sharding (`unshard_rows`).
  """
  if axis_name is None:
    return unshard_rows(x)
  return jax.lax.all_gather(x, axis_name, axis=0, tiled=True)


def global_sum(x: jax.Array, axis_name: str | None) -> jax.Array:
  """Sums a per-shard partial sum over `axis_name` (identity if None)."""
  if axis_name is None:
    return x
  return jax.lax.psum(x, axis_name)


def global_mean(
  x: jax.Array, axis_name: str | None, axis: int | tuple[int, ...] = 0
) -> jax.Array:
  """Mean over `axis` of the global batch (sharded along axis 0)."""
  axes = (axis,) if isinstance(axis, int) else tuple(axis)
  count = 1
  for a in axes:
    count *= x.shape[a]
  total = global_sum(jnp.sum(x, axis=axes), axis_name)
  return total / (count * axis_size(axis_name))


def axis_size(axis_name: str | None) -> int:
  """Number of devices along `axis_name` (1 if None)."""
  if axis_name is None:
    return 1
  return jax.lax.axis_size(axis_name)


def row_offset(n: int, axis_name: str | None) -> jax.Array | int:
  """Global index of this shard's first row: `axis_index * n` (0 if None)."""
  if axis_name is None:
    return 0
  return jax.lax.axis_index(axis_name) * n


def unshard_rows(x: jax.Array) -> jax.Array:
  """Replicates axis 0 of `x` if it is sharded over an Explicit mesh axis.

  A global-batch loss multiplies `[N, d]` by `[d, N]`. Under `jit` with an
  Auto mesh XLA inserts the all-gather itself, but with Explicit axis types
  (the `jax.make_mesh` default) sharding-in-types rejects an output sharded
  twice over the same axis. Gathering the candidate side here is exactly the
  all-gather XLA would add, and a no-op for unsharded or Auto inputs.
  """
  sharding = getattr(jax.typeof(x), "sharding", None)
  spec = getattr(sharding, "spec", None)
  if not spec or spec[0] is None:
    return x
  mesh = sharding.mesh
  names = spec[0] if isinstance(spec[0], tuple) else (spec[0],)
  types = dict(zip(mesh.axis_names, mesh.axis_types))
  if not any(types.get(a) == jax.sharding.AxisType.Explicit for a in names):
    return x
  new_spec = jax.sharding.PartitionSpec(None, *spec[1:])
  return jax.sharding.reshard(x, jax.sharding.NamedSharding(mesh, new_spec))


def _explicit_mesh(*arrays):
  """The mesh of the first array sharded over an Explicit axis, or None."""
  for x in arrays:
    sharding = getattr(jax.typeof(x), "sharding", None)
    spec = getattr(sharding, "spec", None)
    if not spec:
      continue
    mesh = sharding.mesh
    types = dict(zip(mesh.axis_names, mesh.axis_types))
    for entry in spec:
      names = entry if isinstance(entry, tuple) else (entry,)
      if any(types.get(a) == jax.sharding.AxisType.Explicit for a in names):
        return mesh
  return None


def einsum_over_batch(subscripts: str, *operands: jax.Array) -> jax.Array:
  """`jnp.einsum` whose contraction includes the (sharded) batch axis.

  Batch statistics such as `zᵀz` contract the axis a global-batch input is
  sharded over. Auto meshes resolve this themselves; Explicit meshes ask
  for the output sharding, which is replicated (the small statistic every
  device needs), so XLA emits the all-reduce.
  """
  mesh = _explicit_mesh(*operands)
  if mesh is None:
    return jnp.einsum(subscripts, *operands)
  out = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  return jnp.einsum(subscripts, *operands, out_sharding=out)
