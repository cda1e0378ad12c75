"""Shared checks for the loss tests: 8-device equivalence and gradients.

`assert_sharded_equivalent` is the guard against the bug class PyTorch
peers shipped (gradients silently scaled by the device count). Its reference
is the *1-device* value and gradient of the same global function, computed
with no mesh at all; the sharded forms are compared against it for inputs
sharded over the batch and for a replicated parameter that feeds the loss.
Any spurious `pmean`/`psum` of a gradient, a missing gather, or a
stop-gradient on gathered negatives changes a gradient and fails here.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P


def make_mesh(axis_type=AxisType.Explicit):
  return jax.make_mesh((8,), ("data",), axis_types=(axis_type,))


def _value_and_grads(fn, params, batch):
  argnums = tuple(range(1 + len(batch)))
  return jax.jit(jax.value_and_grad(fn, argnums=argnums))(params, *batch)


def assert_sharded_equivalent(
  make_loss,
  params,
  batch,
  *,
  batch_axes=None,
  rtol=2e-5,
  atol=2e-6,
  grad_batch=True,
  shard_map_form=True,
  auto_mesh=False,
):
  """Checks global-jit and shard_map forms against the 1-device reference.

  Args:
    make_loss: `axis_name -> f(params, *batch) -> scalar`.
    params: replicated pytree (e.g. a shared projection) feeding the loss.
    batch: arrays sharded over the global batch.
    batch_axes: per batch array, the axis holding the batch (default 0).
    rtol, atol: tolerances of the comparison.
    grad_batch: also compare gradients w.r.t. the batch arrays (False for
      integer inputs such as labels: then only the params gradient).
    shard_map_form: also check `shard_map(make_loss("data"))` (only for
      losses that take `axis_name`).
    auto_mesh: also run the global-jit form on an Auto mesh (the Explicit
      mesh, `jax.make_mesh`'s default, is always checked; it is the stricter
      one, Auto only adds compile time).
  """
  batch = [np.asarray(b) for b in batch]
  if batch_axes is None:
    batch_axes = [0] * len(batch)
  specs = [P(*([None] * a + ["data"])) for a in batch_axes]
  dev0 = jax.devices()[0]
  ref_params = jax.device_put(params, dev0)
  ref_batch = [jax.device_put(b, dev0) for b in batch]

  def vg(fn, p, bs):
    if grad_batch:
      return _value_and_grads(fn, p, bs)
    return jax.jit(jax.value_and_grad(fn))(p, *bs)

  ref = vg(make_loss(None), ref_params, ref_batch)
  chex.assert_tree_all_finite(ref)

  axis_types = (
    (AxisType.Explicit, AxisType.Auto) if auto_mesh else (AxisType.Explicit,)
  )
  for axis_type in axis_types:
    mesh = make_mesh(axis_type)
    p_sh = jax.device_put(params, NamedSharding(mesh, P()))
    b_sh = [
      jax.device_put(b, NamedSharding(mesh, s)) for b, s in zip(batch, specs)
    ]
    got = vg(make_loss(None), p_sh, b_sh)
    chex.assert_trees_all_close(
      got, ref, rtol=rtol, atol=atol, custom_message=f"global jit, {axis_type}"
    )

  if not shard_map_form:
    return
  mesh = make_mesh(AxisType.Explicit)
  sharded = jax.shard_map(
    make_loss("data"), mesh=mesh, in_specs=(P(),) + tuple(specs), out_specs=P()
  )
  p_sh = jax.device_put(params, NamedSharding(mesh, P()))
  b_sh = [
    jax.device_put(b, NamedSharding(mesh, s)) for b, s in zip(batch, specs)
  ]
  got = vg(sharded, p_sh, b_sh)
  chex.assert_trees_all_close(
    got, ref, rtol=rtol, atol=atol, custom_message="shard_map"
  )


def check_grads_f64(fn, args, *, eps=1e-4, rtol=1e-5, atol=1e-6):
  """`jax.test_util.check_grads` (order 1, reverse) in float64."""
  from jax import test_util  # pylint: disable=g-import-not-at-top

  with jax.enable_x64(True):
    args = tuple(jnp.asarray(np.asarray(a, np.float64)) for a in args)
    # jit: check_grads evaluates `fn` many times; eager dispatch is slow.
    test_util.check_grads(
      jax.jit(fn), args, order=1, modes=("rev",), eps=eps, rtol=rtol, atol=atol
    )


def assert_bf16_gives_f32(fn, args, *, rtol=3e-2, atol=3e-2):
  """bf16 inputs give a float32 scalar close to the float32 loss."""
  out16 = jax.jit(fn)(*[jnp.asarray(a, jnp.bfloat16) for a in args])
  out32 = jax.jit(fn)(*[jnp.asarray(a, jnp.float32) for a in args])
  assert out16.dtype == jnp.float32, out16.dtype
  assert out16.shape == (), out16.shape
  np.testing.assert_allclose(out16, out32, rtol=rtol, atol=atol)
