"""The representation protocol's PCA baseline against NumPy's SVD."""

import numpy as np

from jaxssl.evals import representation


def test_pca_projection_matches_numpy_svd():
  rng = np.random.default_rng(0)
  # Low-rank data plus noise: the top components are well separated.
  basis = rng.normal(size=(5, 40))
  bank = rng.normal(size=(200, 5)) * [9, 7, 5, 3, 2] @ basis
  bank += 0.01 * rng.normal(size=bank.shape)
  queries = rng.normal(size=(30, 5)) @ basis
  got_bank, got_q = representation.pca_project(bank, queries, components=3)
  mean = bank.mean(0)
  _, _, vt = np.linalg.svd(bank - mean, full_matrices=False)
  want_bank, want_q = (bank - mean) @ vt[:3].T, (queries - mean) @ vt[:3].T
  # Components are defined up to sign.
  signs = np.sign(np.sum(got_bank * want_bank, axis=0))
  np.testing.assert_allclose(got_bank, want_bank * signs, rtol=1e-3, atol=1e-3)
  np.testing.assert_allclose(got_q, want_q * signs, rtol=1e-3, atol=1e-3)


def test_pca_components_capped_by_rank():
  bank = np.random.default_rng(0).normal(size=(10, 4))
  (out,) = representation.pca_project(bank, components=64)
  assert out.shape == (10, 4)
