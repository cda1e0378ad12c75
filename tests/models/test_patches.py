"""jaxssl.models.patches against the official MAE patch layout."""

import jax
import numpy as np
import pytest

from jaxssl.models import patches


def np_mae_patchify(images_nhwc, p):
  """The official MAE patchify, written for NCHW input."""
  imgs = np.transpose(images_nhwc, (0, 3, 1, 2))
  n, c, hh, ww = imgs.shape
  h, w = hh // p, ww // p
  x = imgs.reshape(n, c, h, p, w, p)
  x = np.einsum("nchpwq->nhwpqc", x)
  return x.reshape(n, h * w, p * p * c)


def test_patchify_matches_mae_and_roundtrips():
  rng = np.random.default_rng(0)
  images = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
  got = jax.jit(patches.patchify, static_argnums=1)(images, 4)
  np.testing.assert_array_equal(got, np_mae_patchify(images, 4))
  back = patches.unpatchify(got, 4, 3)
  np.testing.assert_array_equal(back, images.astype(np.float32))
  # Non-square images patchify too (row-major grid).
  rect = rng.normal(size=(1, 4, 8, 2)).astype(np.float32)
  np.testing.assert_array_equal(
    patches.patchify(rect, 2), np_mae_patchify(rect, 2)
  )


def test_patchify_errors():
  with pytest.raises(ValueError, match=r"\(1, 6, 8, 3\).*4"):
    patches.patchify(np.zeros((1, 6, 8, 3)), 4)
  with pytest.raises(ValueError, match=r"`images`.*\(6, 8, 3\)"):
    patches.patchify(np.zeros((6, 8, 3)), 2)
  with pytest.raises(ValueError, match=r"`patches`.*square"):
    patches.unpatchify(np.zeros((1, 3, 12)), 2, 3)
