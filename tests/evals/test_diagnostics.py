"""Alignment, uniformity and RankMe against float64 loops and closed forms."""

import numpy as np
import pytest

from jaxssl.evals import diagnostics


def _unit(x):
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_uniformity_matches_pairwise_loop():
  rng = np.random.default_rng(0)
  x = rng.standard_normal((13, 5))
  u = _unit(x)
  terms = [
    np.exp(-2 * np.sum((u[i] - u[j]) ** 2))
    for i in range(13)
    for j in range(13)
    if i != j
  ]
  want = np.log(np.mean(terms))
  assert diagnostics.uniformity(x.astype(np.float32)) == pytest.approx(
    want, rel=1e-5
  )
  # Closed form: two antipodal points are 2 apart, log exp(-2 * 4) = -8.
  assert diagnostics.uniformity(np.array([[1.0, 0], [-3.0, 0]])) == (
    pytest.approx(-8.0)
  )
  # One point repeated (collapse): the maximum, log 1 = 0.
  assert diagnostics.uniformity(np.ones((6, 3))) == pytest.approx(0.0)


def test_alignment_matches_loop_and_closed_forms():
  rng = np.random.default_rng(1)
  a, b = rng.standard_normal((9, 4)), rng.standard_normal((9, 4))
  want = np.mean([np.sum((_unit(a)[i] - _unit(b)[i]) ** 2) for i in range(9)])
  assert diagnostics.alignment(a, b) == pytest.approx(want)
  assert diagnostics.alignment(a, 3 * a) == pytest.approx(0.0, abs=1e-12)
  assert diagnostics.alignment(a, -a) == pytest.approx(4.0)
  with pytest.raises(ValueError, match="alignment"):
    diagnostics.alignment(a, b[:3])


def test_rankme_matches_entropy_of_singular_values():
  rng = np.random.default_rng(2)
  x = rng.standard_normal((40, 6)) @ np.diag([5, 3, 1, 0.5, 0.1, 0.01])
  s = np.linalg.svd(x, compute_uv=False)
  p = s / s.sum() + 1e-7
  assert diagnostics.rankme(x.astype(np.float32)) == pytest.approx(
    np.exp(-np.sum(p * np.log(p))), rel=1e-5
  )
  # k equal singular values: effective rank k; rank one: 1.
  q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
  assert diagnostics.rankme(q[:, :7] * 2.0) == pytest.approx(7.0, rel=1e-4)
  assert diagnostics.rankme(np.outer(np.arange(1, 9), [1.0, 2, 3])) == (
    pytest.approx(1.0, rel=1e-4)
  )
  with pytest.raises(ValueError, match="rankme"):
    diagnostics.rankme(np.zeros((0, 3)))


def test_pair_config_uses_the_runs_two_full_size_views():
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top

  config = configs_lib.load("quickstart", "smoke")
  got, group = diagnostics.pair_config(config)
  assert got is config and group in config.data.views
  assert config.data.views[group].num_views >= 2


@pytest.mark.slow  # ~30 s: tf.data views + compiles (the CLI test covers it)
def test_protocol_on_a_smoke_run(tmp_path, monkeypatch):
  # pylint: disable=g-import-not-at-top
  from jaxssl import configs_lib
  from jaxssl.data import kinds
  from jaxssl.evals import base
  from jaxssl.train import setup

  monkeypatch.setenv("JAXSSL_CACHE_DIR", str(tmp_path))
  monkeypatch.setattr(diagnostics, "ALIGN_PAIRS", 32)
  config = configs_lib.load("quickstart", "smoke")
  kind = kinds.get(config.data.kind)
  run = setup.build(config, kind.batch_spec(config))
  state = run.init(run.init_key)
  context = base.Context(config, run.method, run.mesh, kind.info(config), kind)
  evaluator = diagnostics.build(context)
  got = evaluator.evaluate(state)
  assert set(got) == {"eval/alignment", "eval/uniformity", "eval/rankme"}
  assert 0.0 <= got["eval/alignment"] <= 4.0
  assert -4.0 - 1e-6 <= got["eval/uniformity"] <= 0.0
  assert 1.0 <= got["eval/rankme"] <= 512
