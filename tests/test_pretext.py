"""Tests for jaxssl.pretext batch makers."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import pretext


def _images(n=16, h=6, w=6, c=2, seed=0):
  return (
    np.random.default_rng(seed).normal(size=(n, h, w, c)).astype(np.float32)
  )


def test_rotation():
  images = _images(32)
  rotated, labels = jax.jit(pretext.rotation)(jax.random.key(0), images)
  assert labels.dtype == jnp.int32
  assert set(np.asarray(labels).tolist()) == {0, 1, 2, 3}
  for img, rot, k in zip(images, np.asarray(rotated), np.asarray(labels)):
    np.testing.assert_array_equal(rot, np.rot90(img, k, axes=(0, 1)))
  with pytest.raises(ValueError, match=r"square.*\(2, 4, 6, 2\)"):
    pretext.rotation(jax.random.key(0), _images(2, 4, 6))


def test_jigsaw_and_permutations():
  perms = pretext.max_hamming_permutations(10, grid=2, seed=1)
  assert perms.shape == (10, 4)
  assert len({tuple(p) for p in perms}) == 10
  assert all(sorted(p) == [0, 1, 2, 3] for p in perms.tolist())
  perms9 = pretext.max_hamming_permutations(30)
  dists = [np.sum(a != b) for a, b in itertools.combinations(perms9, 2)]
  assert min(dists) >= 6  # greedy max-Hamming sets are well spread

  images = _images(8, 7, 6)
  tiles, labels = jax.jit(
    lambda k, x: pretext.jigsaw(k, x, grid=2, permutations=perms)
  )(jax.random.key(0), images)
  assert tiles.shape == (8, 4, 3, 3, 2)
  for img, t, lab in zip(images, np.asarray(tiles), np.asarray(labels)):
    grid = [
      img[r * 3 : (r + 1) * 3, c * 3 : (c + 1) * 3]
      for r in range(2)
      for c in range(2)
    ]
    for j in range(4):
      np.testing.assert_array_equal(t[j], grid[perms[lab, j]])
  with pytest.raises(ValueError, match=r"`permutations`.*\[P, 9\]"):
    pretext.jigsaw(jax.random.key(0), images, permutations=perms)


def test_relative_position():
  images = _images(64, 9, 10)
  pairs, labels = jax.jit(pretext.relative_position)(jax.random.key(0), images)
  assert pairs.shape == (64, 2, 3, 3, 2)
  assert set(np.asarray(labels).tolist()) == set(range(8))
  offsets = [
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, -1),
    (0, 1),
    (1, -1),
    (1, 0),
    (1, 1),
  ]
  for img, pair, lab in zip(images, np.asarray(pairs), np.asarray(labels)):
    np.testing.assert_array_equal(pair[0], img[3:6, 3:6])
    dr, dc = offsets[lab]
    r, c = 3 * (1 + dr), 3 * (1 + dc)
    np.testing.assert_array_equal(pair[1], img[r : r + 3, c : c + 3])


def test_rgb_to_lab_matches_skimage():
  color = pytest.importorskip("skimage.color")
  rgb = np.random.default_rng(0).uniform(size=(4, 5, 3))
  rgb[0, :3] = [[0, 0, 0], [1, 1, 1], [0.01, 0.02, 0.03]]
  np.testing.assert_allclose(
    jax.jit(pretext.rgb_to_lab)(rgb), color.rgb2lab(rgb), atol=2e-3
  )
  l, ab = pretext.colorization(rgb)
  assert l.shape == (4, 5, 1) and ab.shape == (4, 5, 2)
  assert np.all(np.abs(l) <= 1 + 1e-6) and np.all(np.abs(ab) <= 1.2)
  with pytest.raises(ValueError, match=r"3 channels.*\(4, 2\)"):
    pretext.rgb_to_lab(np.zeros((4, 2)))
