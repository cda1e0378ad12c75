"""Property tests: every public loss under bad input gives a clear error or a
finite value, never a silent NaN.

Hypothesis draws, for each loss, the batch size, the dtype (float32 /
bfloat16 / float16 / int32), a rank error in the first argument, and a
corruption of it (NaN, +inf, -inf, values near the dtype's maximum); the
call must either raise a one-line `ValueError` that names the loss or an
argument, or return only finite values. Shapes come from a small fixed set
so that the loss compiles a few times per test, not once per example.
Examples are derandomised: CI sees the same cases on every run.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxssl import losses

D, K, L, V = 8, 6, 5, 11  # feature dim, prototypes, sequence length, vocab


def _f(rng, shape):
  return rng.normal(size=shape)


def _labels(rng, n):
  return jnp.asarray(np.arange(n) % 3, jnp.int32)


# name -> (build(rng, n) -> (args, kwargs), index of the corrupted argument).
# Every float argument is built as float64 NumPy; the test casts it.
SPECS = {
  "nt_xent": lambda r, n: ((_f(r, (n, D)), _f(r, (n, D))), {}),
  "nt_xent_blockwise": lambda r, n: (
    (_f(r, (n, D)), _f(r, (n, D))),
    {"block_size": 2},
  ),
  "info_nce": lambda r, n: ((_f(r, (n, D)), _f(r, (n, D))), {}),
  "info_nce_blockwise": lambda r, n: (
    (_f(r, (n, D)), _f(r, (n, D))),
    {"block_size": 2},
  ),
  "clip": lambda r, n: (
    (_f(r, (n, D)), _f(r, (n, D))),
    {"logit_scale": 10.0},
  ),
  "clip_blockwise": lambda r, n: (
    (_f(r, (n, D)), _f(r, (n, D))),
    {"logit_scale": 10.0, "block_size": 2},
  ),
  "siglip": lambda r, n: (
    (_f(r, (n, D)), _f(r, (n, D))),
    {"t": 10.0, "b": -10.0},
  ),
  "siglip_blockwise": lambda r, n: (
    (_f(r, (n, D)), _f(r, (n, D))),
    {"t": 10.0, "b": -10.0, "block_size": 2},
  ),
  "supcon": lambda r, n: ((_f(r, (n, 2, D)), _labels(r, n)), {}),
  "barlow_twins": lambda r, n: ((_f(r, (n, D)), _f(r, (n, D))), {}),
  "vicreg": lambda r, n: ((_f(r, (n, D)), _f(r, (n, D))), {}),
  "byol": lambda r, n: ((_f(r, (n, D)), _f(r, (n, D))), {}),
  "negative_cosine": lambda r, n: ((_f(r, (n, D)), _f(r, (n, D))), {}),
  "contrastive_accuracy": lambda r, n: ((_f(r, (n, D)), _f(r, (n, D))), {}),
  "embedding_std": lambda r, n: ((_f(r, (n, D)),), {}),
  "triplet_margin": lambda r, n: (
    (_f(r, (n, D)), _f(r, (n, D)), _f(r, (n, D))),
    {},
  ),
  "triplet_all": lambda r, n: ((_f(r, (n, D)), _labels(r, n)), {}),
  "contrastive_pair": lambda r, n: ((_f(r, (n, D)), _labels(r, n)), {}),
  "lifted_structured": lambda r, n: ((_f(r, (n, D)), _labels(r, n)), {}),
  "n_pairs": lambda r, n: ((_f(r, (n, D)), _labels(r, n)), {}),
  "soft_nearest_neighbor": lambda r, n: (
    (_f(r, (n, D)), _labels(r, n)),
    {"temperature": 1.0},
  ),
  "noise_contrastive": lambda r, n: ((_f(r, (n,)), _f(r, (n, 3))), {}),
  "sinkhorn": lambda r, n: ((_f(r, (n, K)),), {}),
  "swav": lambda r, n: ((_f(r, (2, n, K)), _f(r, (1, n, K))), {}),
  "dino": lambda r, n: (
    (_f(r, (3, n, K)), _f(r, (2, n, K)), _f(r, (K,))),
    {},
  ),
  "dino_center": lambda r, n: ((_f(r, (K,)), _f(r, (2, n, K))), {}),
  "mean_entropy": lambda r, n: ((_f(r, (n, K)),), {}),
  "marginal_entropy": lambda r, n: ((_f(r, (n, K)),), {}),
  "mae": lambda r, n: (
    (
      _f(r, (n, L, D)),
      _f(r, (n, L, D)),
      jnp.asarray(np.arange(n * L).reshape(n, L) % 2 == 0),
    ),
    {},
  ),
  "masked_lm": lambda r, n: (
    (
      _f(r, (n, L, V)),
      jnp.asarray(np.arange(n * L).reshape(n, L) % V, jnp.int32),
      jnp.asarray(np.arange(n * L).reshape(n, L) % 3 == 0),
    ),
    {},
  ),
  "next_token": lambda r, n: (
    (
      _f(r, (n, L, V)),
      jnp.asarray(np.arange(n * L).reshape(n, L) % V, jnp.int32),
      jnp.ones((n, L), bool),
    ),
    {},
  ),
}

_DTYPES = {
  "float32": jnp.float32,
  "bfloat16": jnp.bfloat16,
  "float16": jnp.float16,
  "int32": jnp.int32,
}
_CORRUPTIONS = ("none", "nan", "posinf", "neginf", "huge", "zeros")


def _cast(x, dtype, corruption):
  x = np.asarray(x, np.float64)
  if corruption == "huge":
    # Near the dtype's largest finite value: squares and logits overflow.
    x = x * float(jnp.finfo(dtype).max if dtype != jnp.int32 else 2**30) / 4
  elif corruption == "zeros":
    x = np.zeros_like(x)
  elif corruption in ("nan", "posinf", "neginf") and x.size:
    x = x.copy()
    x.flat[x.size // 2] = {"nan": np.nan, "posinf": np.inf, "neginf": -np.inf}[
      corruption
    ]
  if dtype == jnp.int32:
    x = np.nan_to_num(x, posinf=2**30, neginf=-(2**30)).round()
  return jnp.asarray(x, dtype)


def test_every_public_loss_has_a_spec():
  public = {
    n
    for n in losses.__all__
    if callable(getattr(losses, n))
    and n not in ("dino_teacher_temp", "l2_normalize")  # not losses
  }
  assert public == set(SPECS), sorted(public ^ set(SPECS))


@pytest.mark.parametrize("name", sorted(SPECS))
@settings(
  max_examples=12,
  deadline=None,
  derandomize=True,
  suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
  n=st.sampled_from([4, 6]),
  dtype=st.sampled_from(sorted(_DTYPES)),
  corruption=st.sampled_from(_CORRUPTIONS),
  rank_change=st.sampled_from([0, 0, 0, -1, 1]),
)
def test_clear_error_or_finite(name, n, dtype, corruption, rank_change):
  fn = getattr(losses, name)
  rng = np.random.default_rng(0)
  args, kwargs = SPECS[name](rng, n)
  args = list(args)
  first = np.asarray(args[0])
  if rank_change < 0:
    first = first[..., 0]
  elif rank_change > 0:
    first = first[..., None]
  args[0] = _cast(first, _DTYPES[dtype], corruption)
  args[1:] = [
    _cast(a, jnp.float32, "none") if np.asarray(a).dtype == np.float64 else a
    for a in args[1:]
  ]
  try:
    out = fn(*args, **kwargs)
  except ValueError as e:
    message = str(e)
    assert "\n" not in message, message
    assert "`" in message or name in message, message
    return
  out = np.asarray(out, np.float32)
  assert np.isfinite(out).all(), (name, dtype, corruption, rank_change, out)


def test_nan_input_names_the_argument():
  z = np.ones((4, D), np.float32)
  z[1, 2] = np.nan
  with pytest.raises(ValueError, match=r"nt_xent: `z2` holds NaN"):
    losses.nt_xent(jnp.ones((4, D)), jnp.asarray(z))


def test_overflow_is_named():
  # Finite float32 inputs whose squares overflow to inf.
  big = jnp.full((4, D), 3e38, jnp.float32)
  with pytest.raises(ValueError, match="not finite although every input is"):
    losses.vicreg(big, -big)


def test_no_check_under_jit():
  # Traced values are not checked (the loop's nan_policy covers them).
  import jax

  z = jnp.ones((4, D)).at[0, 0].set(jnp.nan)
  assert jnp.isnan(jax.jit(losses.nt_xent)(z, z))


def test_concrete_inputs_inside_a_trace_are_not_checked():
  # Closed over, `z` is concrete, but the loss's result is traced.
  import jax

  z = jnp.ones((4, D))
  assert np.isfinite(jax.jit(lambda: losses.nt_xent(z, z))())
