"""Tests for jaxssl.losses._contrastive against float64 NumPy references."""

import functools

import jax
import jax.numpy as jnp
import losses_testing as lt
import numpy as np
import pytest

from jaxssl import losses


def np_logsumexp(x, axis):
  m = np.max(x, axis=axis, keepdims=True)
  out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
  return np.squeeze(out, axis=axis)


def _rng(seed=0):
  return np.random.default_rng(seed)


def _normalize(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


# ------------------------------------------------------------------ nt_xent


def np_nt_xent(z1, z2, temperature):
  """2N x 2N similarity matrix form of lightly's NTXentLoss."""
  z = _normalize(np.concatenate([z1, z2]).astype(np.float64))
  n2 = z.shape[0]
  sim = z @ z.T / temperature
  np.fill_diagonal(sim, -np.inf)
  pos = (np.arange(n2) + n2 // 2) % n2
  return np.mean(np_logsumexp(sim, axis=1) - sim[np.arange(n2), pos])


@pytest.mark.parametrize(
  "n,d,temperature", [(4, 3, 0.1), (8, 16, 0.5), (1, 5, 0.2)]
)
def test_nt_xent_value(n, d, temperature):
  z1, z2 = _rng(n).normal(size=(2, n, d))
  got = jax.jit(functools.partial(losses.nt_xent, temperature=temperature))(
    z1, z2
  )
  assert got.dtype == jnp.float32 and got.shape == ()
  np.testing.assert_allclose(got, np_nt_xent(z1, z2, temperature), rtol=1e-5)


def test_nt_xent_perfect_pairs_low_loss():
  z = np.eye(4)
  assert losses.nt_xent(z, z, temperature=0.05) < 1e-6


def test_nt_xent_grads():
  z1, z2 = _rng(1).normal(size=(2, 4, 3))
  lt.check_grads_f64(
    functools.partial(losses.nt_xent, temperature=0.3), (z1, z2)
  )


def test_nt_xent_sharded_equivalence(devices):
  del devices
  z1, z2 = _rng(2).normal(size=(2, 16, 4)).astype(np.float32)
  w = _rng(3).normal(size=(4, 4)).astype(np.float32)

  def make_loss(axis_name):
    def f(w, z1, z2):
      return losses.nt_xent(
        z1 @ w, z2 @ w, temperature=0.2, axis_name=axis_name
      )

    return f

  lt.assert_sharded_equivalent(make_loss, w, [z1, z2], auto_mesh=True)


@jax.custom_vjp
def _scale_grad_by_8(x):
  return x


_scale_grad_by_8.defvjp(lambda x: (x, None), lambda _, g: (8.0 * g,))


@pytest.mark.parametrize("bug", ["stop_gradient_negatives", "grad_x8_params"])
def test_equivalence_check_catches_gradient_bugs(devices, bug):
  """The equivalence helper must fail on the bug class it is meant to catch.

  `stop_gradient_negatives`: gathered negatives carry no gradient (lightly
  #1528-style). `grad_x8_params`: the replicated parameter's gradient comes
  back multiplied by the device count, as with a spurious pmean/psum under
  check_vma=True; the value is unchanged.
  """
  del devices
  z1, z2 = _rng(2).normal(size=(2, 16, 4)).astype(np.float32)
  w = np.eye(4, dtype=np.float32) + 0.1

  def make_loss(axis_name):
    def f(w, z1, z2):
      if axis_name is None:
        return losses.nt_xent(z1 @ w, z2 @ w, temperature=0.2)
      if bug == "grad_x8_params":
        w = _scale_grad_by_8(w)
        return losses.nt_xent(
          z1 @ w, z2 @ w, temperature=0.2, axis_name=axis_name
        )
      g1, g2 = (
        jax.lax.stop_gradient(jax.lax.all_gather(z @ w, axis_name, tiled=True))
        for z in (z1, z2)
      )
      return jax.lax.pmean(losses.nt_xent(g1, g2, temperature=0.2), axis_name)

    return f

  with pytest.raises(AssertionError):
    lt.assert_sharded_equivalent(make_loss, w, [z1, z2])


def test_nt_xent_bf16():
  z1, z2 = _rng(4).normal(size=(2, 8, 16))
  lt.assert_bf16_gives_f32(losses.nt_xent, (z1, z2))


def test_nt_xent_vmap():
  z1, z2 = _rng(5).normal(size=(2, 3, 4, 5)).astype(np.float32)
  got = jax.vmap(losses.nt_xent)(z1, z2)
  want = [losses.nt_xent(a, b) for a, b in zip(z1, z2)]
  np.testing.assert_allclose(got, want, rtol=1e-6)


def test_nt_xent_errors():
  with pytest.raises(ValueError, match=r"`z1`.*rank 2.*\(4,\)"):
    losses.nt_xent(np.ones(4), np.ones(4))
  with pytest.raises(ValueError, match=r"`z1` and `z2`.*\(4, 3\).*\(4, 2\)"):
    losses.nt_xent(np.ones((4, 3)), np.ones((4, 2)))
  with pytest.raises(ValueError, match=r"`z2`.*floating.*int"):
    losses.nt_xent(np.ones((4, 3)), np.ones((4, 3), np.int32))
  with pytest.raises(ValueError, match="temperature"):
    losses.nt_xent(np.ones((4, 3)), np.ones((4, 3)), temperature=0.0)


# ----------------------------------------------------------------- info_nce


def np_info_nce(q, k, negatives, temperature):
  q, k = q.astype(np.float64), k.astype(np.float64)
  out = []
  for i in range(len(q)):
    if negatives is None:
      logits = np.array([q[i] @ k[j] for j in range(len(k))]) / temperature
      out.append(np_logsumexp(logits, 0) - logits[i])
      continue
    negs = negatives if negatives.ndim == 2 else negatives[i]
    logits = np.array([q[i] @ k[i]] + [q[i] @ m for m in negs]) / temperature
    out.append(np_logsumexp(logits, 0) - logits[0])
  return np.mean(out)


@pytest.mark.parametrize("neg_shape", [None, (5, 4), (6, 5, 4)])
def test_info_nce_value(neg_shape):
  rng = _rng(10)
  q, k = rng.normal(size=(2, 6, 4))
  negs = None if neg_shape is None else rng.normal(size=neg_shape)
  fn = jax.jit(functools.partial(losses.info_nce, temperature=0.3))
  got = fn(q, k) if negs is None else fn(q, k, negs)
  np.testing.assert_allclose(got, np_info_nce(q, k, negs, 0.3), rtol=1e-5)


@pytest.mark.parametrize("neg_shape", [None, (5, 3), (4, 2, 3)])
def test_info_nce_grads(neg_shape):
  rng = _rng(11)
  args = tuple(rng.normal(size=(2, 4, 3)))
  if neg_shape is not None:
    args += (rng.normal(size=neg_shape),)
  lt.check_grads_f64(functools.partial(losses.info_nce, temperature=0.5), args)


@pytest.mark.parametrize("neg_shape", [None, (8, 4), (16, 3, 4)])
def test_info_nce_sharded_equivalence(devices, neg_shape):
  del devices
  rng = _rng(12)
  q, k = rng.normal(size=(2, 16, 4)).astype(np.float32)
  w = rng.normal(size=(4, 4)).astype(np.float32)
  batch = [q, k]
  queue = None
  if neg_shape is not None and len(neg_shape) == 3:
    batch.append(rng.normal(size=neg_shape).astype(np.float32))
  elif neg_shape is not None:
    # A shared queue is replicated: it travels with the params.
    queue = rng.normal(size=neg_shape).astype(np.float32)

  def make_loss(axis_name):
    def f(params, q, k, *negs):
      w, queue = params
      negatives = negs[0] if negs else queue
      return losses.info_nce(
        q @ w, k @ w, negatives, temperature=0.2, axis_name=axis_name
      )

    return f

  lt.assert_sharded_equivalent(make_loss, (w, queue), batch)


def test_info_nce_bf16_and_errors():
  q, k = _rng(13).normal(size=(2, 8, 16))
  lt.assert_bf16_gives_f32(losses.info_nce, (q, k))
  with pytest.raises(ValueError, match=r"`negatives`.*\(9, 3, 16\)"):
    losses.info_nce(q, k, np.ones((9, 3, 16)))
  with pytest.raises(ValueError, match=r"`negatives`.*\[k, d\].*\(5, 3\)"):
    losses.info_nce(q, k, np.ones((5, 3)))
  with pytest.raises(ValueError, match=r"`query` and `positive`"):
    losses.info_nce(q, k[:4])


def np_info_nce_hard(q, k, hard, temperature):
  """Supervised SimCSE, Eq. 5: all positives and hard negatives of the batch
  in every denominator (float64, one query at a time)."""
  q, k, h = (x.astype(np.float64) for x in (q, k, hard))
  out = []
  for i in range(len(q)):
    pos = [q[i] @ k[j] / temperature for j in range(len(k))]
    neg = [q[i] @ h[j] / temperature for j in range(len(h))]
    out.append(np_logsumexp(np.array(pos + neg), 0) - pos[i])
  return np.mean(out)


def test_info_nce_hard_negatives_value_and_grads():
  rng = _rng(14)
  q, k, h = rng.normal(size=(3, 6, 4))
  fn = jax.jit(functools.partial(losses.info_nce, temperature=0.3))
  got = fn(q, k, hard_negatives=h)
  np.testing.assert_allclose(got, np_info_nce_hard(q, k, h, 0.3), rtol=1e-5)
  # Hard negatives only add to the denominators: the loss grows.
  assert float(got) > float(fn(q, k))
  lt.check_grads_f64(
    lambda q, k, h: losses.info_nce(q, k, hard_negatives=h, temperature=0.5),
    tuple(rng.normal(size=(3, 4, 3))),
  )


def test_info_nce_hard_negatives_sharded_equivalence(devices):
  del devices
  q, k, h = _rng(15).normal(size=(3, 16, 4)).astype(np.float32)
  w = _rng(16).normal(size=(4, 4)).astype(np.float32)

  def make_loss(axis_name):
    def f(w, q, k, h):
      return losses.info_nce(
        q @ w,
        k @ w,
        hard_negatives=h @ w,
        temperature=0.2,
        axis_name=axis_name,
      )

    return f

  lt.assert_sharded_equivalent(make_loss, w, [q, k, h])


def test_info_nce_hard_negatives_errors():
  q, k = _rng(17).normal(size=(2, 8, 16))
  with pytest.raises(ValueError, match=r"`query` and `hard_negatives`"):
    losses.info_nce(q, k, hard_negatives=k[:4])
  with pytest.raises(ValueError, match=r"`hard_negatives`.*exclude"):
    losses.info_nce(q, k, np.ones((5, 16)), hard_negatives=k)
  lt.assert_bf16_gives_f32(
    lambda q, k: losses.info_nce(q, k, hard_negatives=-k), (q, k)
  )


# ------------------------------------------------------------------- supcon


def np_supcon(features, labels, temperature):
  n, v, _ = features.shape
  z = _normalize(features.astype(np.float64)).reshape(n * v, -1)
  y = np.repeat(np.arange(n) if labels is None else labels, v)
  out = []
  for i in range(n * v):
    others = [a for a in range(n * v) if a != i]
    lse = np_logsumexp(np.array([z[i] @ z[a] for a in others]) / temperature, 0)
    pos = [p for p in others if y[p] == y[i]]
    out.append(
      -np.mean([z[i] @ z[p] / temperature - lse for p in pos]) if pos else 0.0
    )
  return np.mean(out)


@pytest.mark.parametrize("labels", [None, np.array([0, 1, 0, 2, 1])])
@pytest.mark.parametrize("v", [1, 2, 3])
def test_supcon_value(labels, v):
  f = _rng(14).normal(size=(5, v, 4))
  got = jax.jit(functools.partial(losses.supcon, temperature=0.2))(f, labels)
  np.testing.assert_allclose(
    got, np_supcon(f, labels, 0.2), rtol=1e-5, atol=1e-7
  )


def test_supcon_without_labels_is_nt_xent():
  f = _rng(15).normal(size=(6, 2, 5)).astype(np.float32)
  np.testing.assert_allclose(
    losses.supcon(f, temperature=0.3),
    losses.nt_xent(f[:, 0], f[:, 1], temperature=0.3),
    rtol=1e-6,
  )


def test_supcon_grads_bf16_errors():
  f = _rng(16).normal(size=(4, 2, 3))
  labels = np.array([0, 1, 0, 1])
  lt.check_grads_f64(lambda x: losses.supcon(x, labels), (f,))
  lt.assert_bf16_gives_f32(lambda x: losses.supcon(x, labels), (f,))
  with pytest.raises(ValueError, match=r"`features`.*rank 3.*\(4, 6\)"):
    losses.supcon(f.reshape(4, 6))
  with pytest.raises(ValueError, match=r"`labels`.*\(4,\).*\(3,\)"):
    losses.supcon(f, labels[:3])


def test_supcon_global_jit_sharded(devices):
  del devices
  f = _rng(17).normal(size=(16, 2, 4)).astype(np.float32)
  labels = np.arange(16) % 3
  w = np.eye(4, dtype=np.float32) + 0.1

  def make_loss(axis_name):
    del axis_name
    return lambda w, f: losses.supcon(f @ w, labels)

  lt.assert_sharded_equivalent(make_loss, w, [f], shard_map_form=False)


# ------------------------------------------------------------ clip / siglip


def np_clip(x, y, scale):
  logits = scale * x.astype(np.float64) @ y.astype(np.float64).T
  d = np.diag(logits)
  return 0.5 * (
    np.mean(np_logsumexp(logits, 1) - d) + np.mean(np_logsumexp(logits, 0) - d)
  )


def np_siglip(x, y, t, b):
  x, y = x.astype(np.float64), y.astype(np.float64)
  total = 0.0
  for i in range(len(x)):
    for j in range(len(y)):
      z = 1.0 if i == j else -1.0
      total += np.log1p(np.exp(-z * (t * x[i] @ y[j] + b)))
  return total / len(x)


def test_clip_siglip_values():
  x, y = _normalize(_rng(18).normal(size=(2, 7, 5)))
  np.testing.assert_allclose(
    jax.jit(functools.partial(losses.clip, logit_scale=3.0))(x, y),
    np_clip(x, y, 3.0),
    rtol=1e-5,
  )
  np.testing.assert_allclose(
    jax.jit(functools.partial(losses.siglip, t=4.0, b=-2.0))(x, y),
    np_siglip(x, y, 4.0, -2.0),
    rtol=1e-5,
  )


def test_clip_siglip_grads_including_scale():
  x, y = _rng(19).normal(size=(2, 4, 3))
  lt.check_grads_f64(
    lambda x, y, s: losses.clip(x, y, logit_scale=s), (x, y, 2.0)
  )
  lt.check_grads_f64(
    lambda x, y, t, b: losses.siglip(x, y, t=t, b=b), (x, y, 3.0, -1.0)
  )


@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_clip_siglip_global_jit_sharded(devices, name):
  del devices
  x, y = _rng(20).normal(size=(2, 16, 4)).astype(np.float32)
  w = np.eye(4, dtype=np.float32) + 0.1

  def make_loss(axis_name):
    del axis_name
    if name == "clip":
      return lambda w, x, y: losses.clip(x @ w, y @ w, logit_scale=5.0)
    return lambda w, x, y: losses.siglip(x @ w, y @ w, t=5.0, b=-3.0)

  lt.assert_sharded_equivalent(make_loss, w, [x, y], shard_map_form=False)


def test_clip_siglip_bf16_errors():
  x, y = _normalize(_rng(21).normal(size=(2, 8, 16)))
  lt.assert_bf16_gives_f32(
    functools.partial(losses.clip, logit_scale=2.0), (x, y)
  )
  lt.assert_bf16_gives_f32(
    functools.partial(losses.siglip, t=2.0, b=-1.0), (x, y)
  )
  with pytest.raises(ValueError, match=r"`image_emb` and `text_emb`"):
    losses.clip(x, y[:3], logit_scale=1.0)
  with pytest.raises(ValueError, match=r"`text_emb`.*rank 2"):
    losses.siglip(x, y[0], t=1.0, b=0.0)


# -------------------------------------------------------- noise_contrastive


def test_noise_contrastive():
  rng = _rng(22)
  data, noise = rng.normal(size=6), rng.normal(size=(6, 3))
  want = (
    -(
      np.sum(np.log(1 / (1 + np.exp(-data))))
      + np.sum(np.log(1 / (1 + np.exp(noise))))
    )
    / 6
  )
  np.testing.assert_allclose(
    jax.jit(losses.noise_contrastive)(data, noise), want, rtol=1e-5
  )
  lt.check_grads_f64(losses.noise_contrastive, (data, noise))
  lt.assert_bf16_gives_f32(losses.noise_contrastive, (data, noise))
  # Large logits stay finite (log-sigmoid, not log of a sigmoid).
  assert np.isfinite(
    losses.noise_contrastive(np.array([-200.0]), np.array([200.0]))
  )
  with pytest.raises(ValueError, match=r"`noise_logits`.*floating"):
    losses.noise_contrastive(data, np.ones(3, np.int32))
