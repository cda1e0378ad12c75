"""Tests for DINO's loss, centre update and temperature schedule."""

import functools

import jax
import jax.numpy as jnp
import losses_testing as lt
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxssl import losses


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def np_dino(student, teacher, center, student_temp, teacher_temp):
  """The official DINOLoss.forward loop, float64."""
  q_all = _softmax((teacher - center) / teacher_temp)
  total, terms = 0.0, 0
  for iq, q in enumerate(q_all):
    for v, s in enumerate(student):
      if v == iq:
        continue
      log_p = np.log(_softmax(s / student_temp))
      total += np.mean(np.sum(-q * log_p, axis=-1))
      terms += 1
  return total / terms


def _views(seed, s=4, t=2, n=3, k=5):
  rng = np.random.default_rng(seed)
  return (
    rng.normal(size=(s, n, k)),
    rng.normal(size=(t, n, k)),
    rng.normal(size=(k,)) * 0.1,
  )


@pytest.mark.parametrize("s,t", [(2, 2), (5, 2), (3, 1)])
def test_dino_value(s, t):
  student, teacher, center = _views(0, s, t)
  fn = functools.partial(losses.dino, student_temp=0.2, teacher_temp=0.05)
  np.testing.assert_allclose(
    jax.jit(fn)(student, teacher, center),
    np_dino(student, teacher, center, 0.2, 0.05),
    rtol=1e-5,
  )
  # [1, k] centre (the official shape) gives the same value.
  np.testing.assert_allclose(
    fn(student, teacher, center[None]), fn(student, teacher, center), rtol=1e-6
  )


def test_dino_grads():
  student, teacher, center = _views(1, 3, 2, 2, 4)
  lt.check_grads_f64(lambda s: losses.dino(s, teacher, center), (student,))
  g_teacher, g_center = jax.grad(losses.dino, argnums=(1, 2))(
    student, teacher, center
  )
  assert not np.any(g_teacher) and not np.any(g_center)


def test_dino_global_jit_sharded(devices):
  del devices
  student, teacher, center = _views(2, 4, 2, 16, 6)
  w = (np.eye(6) + 0.1).astype(np.float32)

  def make_loss(axis_name):
    del axis_name
    return lambda w, s, t: losses.dino(s @ w, t @ w, center)

  lt.assert_sharded_equivalent(
    make_loss, w, [student, teacher], batch_axes=[1, 1], shard_map_form=False
  )


def test_dino_center(devices):
  del devices
  _, teacher, center = _views(3, 2, 2, 16, 6)
  want = 0.8 * center + 0.2 * teacher.mean(axis=(0, 1))
  got = jax.jit(functools.partial(losses.dino_center, momentum=0.8))(
    center, teacher
  )
  np.testing.assert_allclose(got, want, rtol=1e-5)
  assert got.dtype == jnp.float32 and got.shape == (6,)
  assert losses.dino_center(center[None], teacher).shape == (1, 6)
  mesh = lt.make_mesh()
  sharded = jax.shard_map(
    lambda c, t: losses.dino_center(c, t, momentum=0.8, axis_name="data"),
    mesh=mesh,
    in_specs=(P(), P(None, "data")),
    out_specs=P(),
  )
  t_sh = jax.device_put(
    teacher.astype(np.float32), NamedSharding(mesh, P(None, "data"))
  )
  np.testing.assert_allclose(
    jax.jit(sharded)(center.astype(np.float32), t_sh), want, rtol=1e-5
  )
  global_sh = jax.jit(functools.partial(losses.dino_center, momentum=0.8))(
    center.astype(np.float32), t_sh
  )
  np.testing.assert_allclose(global_sh, want, rtol=1e-5)


def test_dino_teacher_temp_matches_official_schedule():
  official = np.concatenate([np.linspace(0.04, 0.07, 30), np.full(70, 0.07)])
  got = jax.jit(jax.vmap(losses.dino_teacher_temp))(jnp.arange(100))
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(got, official, rtol=1e-6)
  short = [
    float(losses.dino_teacher_temp(e, warmup=0.01, final=0.02, warmup_epochs=w))
    for e, w in ((0, 0), (0, 1), (5, 1))
  ]
  np.testing.assert_allclose(short, [0.02, 0.01, 0.02], rtol=1e-6)


def test_dino_bf16_and_errors():
  student, teacher, center = _views(4)
  lt.assert_bf16_gives_f32(
    lambda s, t: losses.dino(s, t, center),
    (student, teacher),
    rtol=0.05,
    atol=0.05,
  )
  with pytest.raises(ValueError, match=r"`teacher`.*\(3, 3, 5\).*\(2, 3, 5\)"):
    losses.dino(student[:2], np.ones((3, 3, 5)), center)
  with pytest.raises(ValueError, match=r"`center`.*\(4,\)"):
    losses.dino(student, teacher, np.ones(4))
  with pytest.raises(ValueError, match=r"`student`.*rank 3"):
    losses.dino(student[0], teacher, center)
  with pytest.raises(ValueError, match=r"`center`"):
    losses.dino_center(np.ones(4), teacher)
