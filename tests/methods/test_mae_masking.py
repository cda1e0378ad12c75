"""MAE's random masking (jaxssl.methods.mae.random_masking)."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl.methods import mae


def test_random_masking():
  n, l, ratio = 512, 16, 0.75
  keep, is_masked, restore = jax.jit(
    lambda k: mae.random_masking(k, n, l, ratio=ratio)
  )(jax.random.key(0))
  len_keep = int(l * (1 - ratio))
  assert keep.shape == (n, len_keep) and is_masked.dtype == jnp.bool_
  assert restore.shape == (n, l)
  np.testing.assert_array_equal(is_masked.sum(1), l - len_keep)
  # ids_keep are exactly the visible positions.
  visible = np.zeros((n, l), bool)
  np.put_along_axis(visible, np.asarray(keep), True, axis=1)
  np.testing.assert_array_equal(visible, ~np.asarray(is_masked))
  # MAE's unshuffle: kept tokens + mask tokens, gathered by ids_restore.
  x = np.arange(n * l).reshape(n, l)
  kept = np.take_along_axis(x, np.asarray(keep), 1)
  full = np.concatenate([kept, -np.ones((n, l - len_keep), int)], 1)
  restored = np.take_along_axis(full, np.asarray(restore), 1)
  np.testing.assert_array_equal(restored, np.where(is_masked, -1, x))
  # Every position is masked with probability `ratio`.
  freq = np.asarray(is_masked).mean(0)
  assert np.all(np.abs(freq - ratio) < 5 * np.sqrt(ratio * (1 - ratio) / n))
  # Different keys give different masks.
  _, other, _ = mae.random_masking(jax.random.key(1), n, l, ratio=ratio)
  assert np.any(other != is_masked)
  with pytest.raises(ValueError, match="ratio"):
    mae.random_masking(jax.random.key(0), 2, 4, ratio=1.0)


def test_random_masking_example():
  finder = doctest.DocTestFinder()
  (test,) = finder.find(mae.random_masking, "random_masking", globs={})
  result = doctest.DocTestRunner().run(test)
  assert result.attempted > 0 and result.failed == 0
