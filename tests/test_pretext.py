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


def _find(img, patch):
  """Every (row, col) where `patch` occurs in `img` (exactly)."""
  ph, pw = patch.shape[:2]
  return [
    (r, c)
    for r in range(img.shape[0] - ph + 1)
    for c in range(img.shape[1] - pw + 1)
    if np.array_equal(img[r : r + ph, c : c + pw], patch)
  ]


def test_relative_position_default_grid():
  images = _images(64, 9, 10)
  pairs, labels = jax.jit(pretext.relative_position)(jax.random.key(0), images)
  assert pairs.shape == (64, 2, 3, 3, 2)
  assert set(np.asarray(labels).tolist()) == set(range(8))
  origins = set()
  for img, pair, lab in zip(images, np.asarray(pairs), np.asarray(labels)):
    # No gap or jitter: the 3x3 grid of 3-pixel cells, placed at column 0
    # or 1 of the 10 (the one spare column), never at another row.
    ((r0, c0),) = _find(img, pair[0])
    assert r0 == 3 and c0 in (3, 4)
    origins.add(c0 - 3)
    dr, dc = pretext.RELATIVE_OFFSETS[lab]
    assert _find(img, pair[1]) == [(r0 + 3 * dr, c0 + 3 * dc)]
  assert origins == {0, 1}


@pytest.mark.parametrize("patch_size,gap,jitter", [(5, 2, 0), (4, 2, 2)])
def test_relative_position_gap_and_jitter(patch_size, gap, jitter):
  size = 3 * patch_size + 2 * gap + 2 * jitter + 1  # one spare pixel
  images = _images(96, size, size, c=1)
  fn = jax.jit(
    lambda k, x: pretext.relative_position(
      k, x, patch_size=patch_size, gap=gap, jitter=jitter
    )
  )
  pairs, labels = fn(jax.random.key(3), images)
  assert pairs.shape == (96, 2, patch_size, patch_size, 1)
  pitch = patch_size + gap
  shifts = set()
  for img, pair, lab in zip(images, np.asarray(pairs), np.asarray(labels)):
    ((r0, c0),) = _find(img, pair[0])
    ((r1, c1),) = _find(img, pair[1])
    # The centre patch: grid origin (0 or 1) + jitter + one pitch + shift.
    for x in (r0, c0):
      assert jitter + pitch - jitter <= x <= 1 + jitter + pitch + jitter
    dr, dc = pretext.RELATIVE_OFFSETS[lab]
    # The neighbour sits one pitch away per axis, up to both patches'
    # jitter: never closer than the gap minus twice the jitter.
    for d, delta in ((dr, r1 - r0), (dc, c1 - c0)):
      assert abs(delta - d * pitch) <= 2 * jitter
      shifts.add(delta - d * pitch)
    if dr == 0:  # side by side: a gap between them
      assert abs(c1 - c0) - patch_size >= gap - 2 * jitter
  assert shifts == set(range(-2 * jitter, 2 * jitter + 1))
  with pytest.raises(ValueError, match=r"`patch_size`=5.*`gap`=2"):
    pretext.relative_position(
      jax.random.key(0), _images(1, 18, 18), patch_size=5, gap=2, jitter=1
    )


def test_jigsaw_tiles_with_gaps():
  perms = pretext.max_hamming_permutations(8, seed=2)
  images = _images(16, 15, 15, c=1)  # 5-pixel cells, 3-pixel tiles
  tiles, labels = jax.jit(
    lambda k, x: pretext.jigsaw(k, x, permutations=perms, tile_size=3)
  )(jax.random.key(1), images)
  assert tiles.shape == (16, 9, 3, 3, 1)
  positions = set()
  for img, t, lab in zip(images, np.asarray(tiles), np.asarray(labels)):
    for j in range(9):
      cell = perms[lab, j]
      r, c = divmod(int(cell), 3)
      ((dr, dc),) = _find(img[5 * r : 5 * r + 5, 5 * c : 5 * c + 5], t[j])
      positions.add((dr, dc))
  # Every position of a 3-pixel tile inside its 5-pixel cell occurs.
  assert positions == {(r, c) for r in range(3) for c in range(3)}
  with pytest.raises(ValueError, match=r"`tile_size`=6 must be in \[1, 5\]"):
    pretext.jigsaw(jax.random.key(0), images, permutations=perms, tile_size=6)


def test_max_hamming_permutations_of_nine_tiles():
  # Noroozi & Favaro's greedy set: 100 permutations of 9 tiles, no repeats,
  # pairwise Hamming distance checked by brute force against NumPy.
  perms = pretext.max_hamming_permutations(100)
  assert perms.shape == (100, 9) and perms.dtype == np.int32
  assert all(sorted(p) == list(range(9)) for p in perms.tolist())
  d = (perms[:, None] != perms[None]).sum(-1)
  off = ~np.eye(100, dtype=bool)
  assert d[off].min() >= 6
  assert d[off].mean() > 8.0  # far from each other on average (9 = max)
  np.testing.assert_array_equal(perms, pretext.max_hamming_permutations(100))


def test_soft_encoding_and_rebalancing():
  bins = pretext.ab_gamut_bins()
  assert bins.shape[1] == 2 and 250 < len(bins) < 350
  assert np.all(bins % 10 == 0)
  # The sRGB primaries' ab fall in (or next to) a kept bin.
  lab = np.asarray(pretext.rgb_to_lab(np.eye(3)))
  d = np.sqrt(((lab[:, None, 1:] - bins[None]) ** 2).sum(-1)).min(1)
  assert np.all(d <= 5 * np.sqrt(2) + 1e-3)
  rng = np.random.default_rng(0)
  ab = rng.uniform(-60, 60, size=(4, 3, 2)).astype(np.float32)
  q = np.asarray(jax.jit(pretext.soft_encode)(ab, bins))
  assert q.shape == (4, 3, len(bins))
  # NumPy reference: Gaussian weights on the 5 nearest bins.
  d2 = ((ab[..., None, :] - bins) ** 2).sum(-1)
  ref = np.zeros_like(d2)
  for idx in np.ndindex(d2.shape[:-1]):
    near = np.argsort(d2[idx])[:5]
    w = np.exp(-d2[idx][near] / (2 * 5.0**2))
    ref[idx][near] = w / w.sum()
  np.testing.assert_allclose(q, ref, atol=1e-6)
  # Rebalancing against a NumPy reference: E_smoothed_prior[w] = 1 and
  # rarer bins weigh more.
  prior = np.zeros(len(bins), np.float32)
  prior[:10] = 1.0
  prior[0] = 100.0
  w = np.asarray(pretext.rebalance_weights(prior, bins))
  kernel = np.exp(-((bins[:, None] - bins[None]) ** 2).sum(-1) / 50.0)
  smooth = kernel @ (prior / prior.sum())
  smooth /= smooth.sum()
  ref = 1 / (0.5 * smooth + 0.5 / len(bins))
  np.testing.assert_allclose(w, ref / (smooth * ref).sum(), rtol=1e-4)
  assert w[0] < w[5] < w[-1]
  np.testing.assert_allclose((smooth * w).sum(), 1.0, rtol=1e-5)


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
