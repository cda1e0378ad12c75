"""`config.method.loss_block`: the blockwise step equals the dense step.

clip, siglip, simclr and simcse compute their loss with the blockwise form
inside `jax.shard_map` over the mesh's "data" axis when `loss_block` is set
(`jaxssl.methods.contrastive_block`). On the 8-device fake mesh, one real
train step (the loop's jitted step from `jaxssl.train.setup`) with
`loss_block=2` on a batch of 24 (3 rows per device: the last tile of 2 is
padded) must give the dense step's loss, metrics, gradients (read off a
plain SGD update, params - lr * grad) and updated params, the learned
temperature / bias included; and it must really run under shard_map.
"""

import jax
import jax.numpy as jnp
import methods_testing
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxssl import configs_lib, losses
from jaxssl.data import kinds
from jaxssl.methods import contrastive_block
from jaxssl.train import mesh as mesh_lib
from jaxssl.train import setup as setup_lib

CONFIGS = {
  "clip": "clip_quick",
  "siglip": "siglip_quick",
  "simclr": "quickstart",
  "simcse": "simcse_quick",
}
# The learned scalars whose update must match (and be nonzero).
SCALARS = {"clip": ("logit_scale",), "siglip": ("t_prime", "b")}
BATCH, BLOCK, LR = 24, 2, 0.5


@pytest.fixture(scope="module", autouse=True)
def _cache(data_caches):
  return data_caches


def _config(name, loss_block, devices=-1):
  """The quick smoke config at batch 24 with plain SGD (lr 0.5 from step 0,
  no momentum, decay or clipping): the update is exactly -lr * grad."""
  config = methods_testing.load_config(CONFIGS[name], "smoke")
  config.train.batch_size = BATCH
  config.train.progress_bar = False
  config.mesh.data = devices
  config.method.loss_block = loss_block
  o = config.optim
  o.name, o.lr, o.lr_scaling, o.momentum = "sgd", LR, "none", 0.0
  o.weight_decay, o.warmup_steps, o.clip_grad_norm = 0.0, 0, 0.0
  if name == "simcse":
    config.data.vocab_size, config.data.seq_len = 512, 32
  return configs_lib.validate(config)


def _host_batch(config):
  """A real training batch of the kind; N(0, 1) views for simclr."""
  kind = kinds.get(config.data.kind)
  spec = kind.batch_spec(config)
  if config.data.kind == "views":
    rng = np.random.default_rng(0)
    return {
      k: rng.normal(size=s.shape).astype(s.dtype)
      if jnp.issubdtype(s.dtype, jnp.floating)
      else np.zeros(s.shape, s.dtype)
      for k, s in spec.items()
    }
  batch = next(kind.train_batches(config))
  return {k: np.asarray(batch[k]) for k in spec}


def _steps(host_batch, *configs):
  """One train step of each config from the same initial state.

  Returns:
    (params before, [(state after, metrics, step jaxpr) per config]).
  """
  spec = kinds.get(configs[0].data.kind).batch_spec(configs[0])
  runs = [setup_lib.build(c, spec) for c in configs]
  # The loss_block does not change the state: one init serves every run.
  start = jax.device_get(runs[0].init(runs[0].init_key))
  out = []
  for run in runs:
    state = jax.device_put(start, run.state_sharding)
    batch = mesh_lib.to_global(host_batch, run.mesh)
    traced = run.train_step.trace(state, batch)
    new_state, metrics = traced.lower().compile()(state, batch)
    out.append(
      (jax.device_get(new_state), jax.device_get(metrics), str(traced.jaxpr))
    )
  return start.params, out


def _assert_trees_close(got, want, rtol, atol):
  jax.tree.map(
    lambda g, w: np.testing.assert_allclose(g, w, rtol=rtol, atol=atol),
    got,
    want,
  )


def _assert_metrics_close(got, want):
  assert set(got) == set(want)
  for key in want:  # loss, grad_norm, param_norm, accuracies, t, b, ...
    np.testing.assert_allclose(
      got[key], want[key], rtol=2e-5, atol=1e-6, err_msg=key
    )


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_blockwise_step_equals_dense_step(name):
  dense_config = _config(name, 0)
  p0, [(dense, m_dense, jaxpr_dense), (block, m_block, jaxpr_block)] = _steps(
    _host_batch(dense_config), dense_config, _config(name, BLOCK)
  )
  # The blockwise step runs the loss in shard_map; the dense one does not.
  assert "shard_map" in jaxpr_block and "shard_map" not in jaxpr_dense
  _assert_metrics_close(m_block, m_dense)

  def grads(state):
    return jax.tree.map(lambda a, b: (a - b) / LR, p0, state.params)

  _assert_trees_close(grads(block), grads(dense), 2e-4, 2e-6)
  _assert_trees_close(block.params, dense.params, 1e-5, 1e-6)
  _assert_trees_close(block.extra, dense.extra, 1e-5, 1e-6)
  assert float(m_dense["train/grad_norm"]) > 0
  for key in SCALARS.get(name, ()):
    # The replicated scalars' gradient is the dense one, not D times it.
    assert abs(float(grads(dense)[key])) > 1e-4, key
    np.testing.assert_allclose(
      grads(block)[key], grads(dense)[key], rtol=1e-4, err_msg=key
    )


@pytest.mark.slow
# siglip's step differs from clip's only in the loss, whose no-mesh and
# 8-device forms test_helpers_against_numpy checks.
def test_blockwise_clip_one_device_equals_eight():
  """The loop on one device (a 1-device mesh: shard_map of one) == eight."""
  one_config = _config("clip", BLOCK, devices=1)
  _, [(one, m_one, _), (eight, m_eight, _)] = _steps(
    _host_batch(one_config), one_config, _config("clip", BLOCK)
  )
  _assert_metrics_close(m_eight, m_one)
  _assert_trees_close(eight.params, one.params, 1e-5, 1e-6)


def _mesh(devices=8):
  return jax.make_mesh(
    (devices,), ("data",), axis_types=(jax.sharding.AxisType.Auto,)
  )


def _unit_rows(n, d, seed):
  x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def _np_lse(a):
  m = a.max(1, keepdims=True)
  return m[:, 0] + np.log(np.exp(a - m).sum(1))


@pytest.mark.parametrize("sharded", [False, True])
def test_helpers_against_numpy(sharded):
  """The four losses and their accuracies vs float64 NumPy, on 8 devices
  (shard_map) and on plain arrays (no mesh: the global blockwise form),
  with 5 rows per device and tiles of 2."""
  n, d = 40, 6
  x64, y64 = _unit_rows(n, d, 1).astype(np.float64), _unit_rows(n, d, 2)
  y64 = y64.astype(np.float64)
  x, y = jnp.asarray(x64, jnp.float32), jnp.asarray(y64, jnp.float32)
  if sharded:
    x, y = jax.device_put((x, y), NamedSharding(_mesh(), P("data")))
  s = x64 @ y64.T
  eye = np.eye(n, dtype=bool)
  i2t = np.mean(np.argmax(s, 1) == np.arange(n))
  scale, t, b = 5.0, 3.0, -2.0
  f = jax.jit(
    lambda x, y: (
      contrastive_block.clip(x, y, logit_scale=scale, block_size=2),
      contrastive_block.siglip(x, y, t=t, b=b, block_size=2),
      contrastive_block.nt_xent(x, y, temperature=0.5, block_size=2),
      contrastive_block.info_nce(x, y, temperature=0.5, block_size=2),
    )
  )
  assert ("shard_map" in str(jax.make_jaxpr(f)(x, y))) == sharded
  (clip, clip_acc), (sig, sig_acc), ntx, (nce, nce_acc) = f(x, y)
  a = scale * s
  want_clip = 0.5 * np.mean(_np_lse(a) - a[eye] + _np_lse(a.T) - a[eye])
  np.testing.assert_allclose(clip, want_clip, rtol=1e-5)
  z = 2 * eye - 1
  want_sig = np.sum(np.logaddexp(0.0, -z * (t * s + b))) / n
  np.testing.assert_allclose(sig, want_sig, rtol=1e-5)
  np.testing.assert_allclose(clip_acc, i2t)
  np.testing.assert_allclose(sig_acc, i2t)
  both = np.concatenate([x64, y64])
  full = both @ both.T / 0.5
  np.fill_diagonal(full, -np.inf)
  pos = np.concatenate([np.arange(n) + n, np.arange(n)])
  want_ntx = np.mean(_np_lse(full) - full[np.arange(2 * n), pos])
  np.testing.assert_allclose(ntx, want_ntx, rtol=1e-5)
  q = s / 0.5
  np.testing.assert_allclose(nce, np.mean(_np_lse(q) - q[eye]), rtol=1e-5)
  np.testing.assert_allclose(nce_acc, np.mean(np.argmax(full, 1) == pos))
  assert 0 < float(i2t) < 1  # not a degenerate accuracy


def test_blockwise_loss_memory_is_bounded():
  """Per device, the compiled value-and-grad of the blockwise loss holds
  [block, N] tiles, not the dense [N / 8, N] logits: at N = 4096 and
  block 32, temporaries shrink by well over 4x."""
  n, d = 4096, 16
  sh = NamedSharding(_mesh(), P("data"))
  args = [jax.ShapeDtypeStruct((n, d), jnp.float32, sharding=sh)] * 2
  scale = jax.ShapeDtypeStruct((), jnp.float32)

  def temp_bytes(loss):
    vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    return vg.lower(*args, scale).compile().memory_analysis().temp_size_in_bytes

  dense = temp_bytes(lambda x, y, s: losses.clip(x, y, logit_scale=s))
  block = temp_bytes(
    lambda x, y, s: contrastive_block.clip(x, y, logit_scale=s, block_size=32)[
      0
    ]
  )
  tile = 4 * (n // 8) * n  # one device's dense [N / 8, N] float32 logits
  assert dense >= tile, (dense, tile)
  assert block < dense / 4, (block, dense)


def test_rows_that_do_not_split_over_the_data_axis_name_the_key():
  mesh = _mesh()
  x = jnp.asarray(_unit_rows(12, 4, 0))

  def f(x):
    with jax.sharding.use_abstract_mesh(mesh.abstract_mesh):
      return contrastive_block.nt_xent(x, x, temperature=0.5, block_size=2)

  with pytest.raises(ValueError, match="config.method.loss_block: the batch"):
    jax.jit(f)(x)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("value", [-1, 2.5, True, "4"])
def test_bad_loss_block_names_the_key(name, value):
  config = methods_testing.load_config(CONFIGS[name])
  assert config.method.loss_block == 0  # the dense loss by default
  with config.ignore_type():
    config.method.loss_block = value
  with pytest.raises(ValueError, match=r"^config\.method\.loss_block="):
    configs_lib.validate(config)
