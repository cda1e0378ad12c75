"""The linear probe against scikit-learn's logistic regression."""

import numpy as np
import pytest
from sklearn import linear_model

from jaxssl.evals import linear


def _blobs(n, d=8, classes=4, spread=1.5, seed=0):
  rng = np.random.default_rng(seed)
  centers = rng.normal(size=(classes, d)) * spread
  y = rng.integers(classes, size=n)
  return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def test_fit_matches_sklearn_logistic_regression():
  x, y = _blobs(400)
  (x,) = linear.standardize(x)
  l2 = 1e-2
  params = linear.fit(x, y, l2, num_classes=4, steps=200)
  # sklearn minimises sum CE + ||W||^2 / (2C); ours is that divided by n.
  ref = linear_model.LogisticRegression(
    C=1 / (l2 * len(x)), tol=1e-10, max_iter=10_000
  ).fit(x, y)
  np.testing.assert_allclose(np.asarray(params["w"]), ref.coef_.T, atol=2e-3)
  # sklearn leaves the intercept's softmax gauge free; compare logits.
  ours = x @ np.asarray(params["w"]) + np.asarray(params["b"])
  theirs = ref.decision_function(x)
  np.testing.assert_allclose(
    ours - ours.mean(1, keepdims=True),
    theirs - theirs.mean(1, keepdims=True),
    atol=5e-3,
  )


def test_probe_separates_separable_classes_and_not_noise():
  x, y = _blobs(600, spread=4.0)
  tx, ty = _blobs(300, spread=4.0, seed=0)  # same centers, new draws
  tx, ty = tx[:300], ty[:300]
  good = linear.linear_probe(x, y, tx, ty, num_classes=4)
  assert good["top1"] > 95.0
  assert good["l2"] in linear.L2_GRID
  rng = np.random.default_rng(1)
  noise = linear.linear_probe(
    rng.normal(size=(600, 8)), y, rng.normal(size=(300, 8)), ty, num_classes=4
  )
  assert noise["top1"] < 40.0  # chance is 25%


def test_standardize_uses_train_statistics():
  train = np.array([[0.0, 10.0], [2.0, 30.0]])
  test = np.array([[1.0, 20.0]])
  a, b = linear.standardize(train, test)
  np.testing.assert_allclose(a.mean(0), 0, atol=1e-6)
  np.testing.assert_allclose(a.std(0), 1, atol=1e-5)
  np.testing.assert_allclose(b, [[0.0, 0.0]], atol=1e-6)


def test_bad_shapes_are_named():
  x, y = _blobs(50)
  with pytest.raises(ValueError, match="same d"):
    linear.linear_probe(x, y, x[:, :3], y, num_classes=4)
  with pytest.raises(ValueError, match="differ in length"):
    linear.linear_probe(x, y[:10], x, y, num_classes=4)


def test_probe_top5_matches_numpy_rank():
  rng = np.random.default_rng(4)
  centers = rng.standard_normal((10, 6)) * 0.7
  y = rng.integers(0, 10, 400)
  x = (centers[y] + rng.standard_normal((400, 6))).astype(np.float32)
  ty = rng.integers(0, 10, 200)
  tx = (centers[ty] + rng.standard_normal((200, 6))).astype(np.float32)
  out = linear.linear_probe(x, y, tx, ty, num_classes=10, l2_grid=(1e-3,))
  # The reference: refit the same classifier, rank the logits in float64.
  sx, stx = linear.standardize(x, tx)
  params = linear.fit(sx, y, 1e-3, num_classes=10)
  logits = np.asarray(stx, np.float64) @ np.asarray(
    params["w"], np.float64
  ) + np.asarray(params["b"], np.float64)
  top5 = np.argsort(-logits, axis=1)[:, :5]
  want = 100.0 * np.mean([t in row for t, row in zip(ty, top5)])
  want1 = 100.0 * np.mean(np.argmax(logits, axis=1) == ty)
  assert out["top5"] == pytest.approx(want)
  assert out["top1"] == pytest.approx(want1)
  assert out["top1"] < out["top5"] < 100.0
