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


def test_pixel_scores_are_cached_per_data_and_probe_settings(
  tmp_path, monkeypatch
):
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top

  monkeypatch.setenv("JAXSSL_CACHE_DIR", str(tmp_path))
  config = configs_lib.base_config()
  path = representation.pixel_cache_path(config)
  assert path.startswith(str(tmp_path))
  other = configs_lib.base_config()
  other.eval.knn_k = 5
  assert representation.pixel_cache_path(other) != path
  other = configs_lib.base_config("byol")  # another method: the same scores
  assert representation.pixel_cache_path(other) == path
  other.data.name = "cifar10"  # not versioned: never cached
  assert representation.pixel_cache_path(other) is None

  calls = []
  evaluator = object.__new__(representation.Representation)
  evaluator._config = config  # pylint: disable=protected-access

  def score():
    calls.append(1)
    return {"eval/knn_top1_raw_pixels": 16.0, "eval/knn_top1_pca": 17.0}

  monkeypatch.setattr(evaluator, "_score_pixels", score)
  first = evaluator.raw_pixels()
  assert evaluator.raw_pixels() == first and len(calls) == 1


def test_final_evaluation_and_baselines_use_the_final_bank(
  tmp_path, monkeypatch
):
  import dataclasses  # pylint: disable=g-import-not-at-top

  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.data import kinds  # pylint: disable=g-import-not-at-top
  from jaxssl.evals import base  # pylint: disable=g-import-not-at-top
  from jaxssl.train import setup  # pylint: disable=g-import-not-at-top

  monkeypatch.setenv("JAXSSL_CACHE_DIR", str(tmp_path))
  config = configs_lib.load("quickstart", "smoke")
  config.eval.max_train_examples = 64
  config.eval.final_max_train_examples = 128
  config.eval.linear_probe = False
  configs_lib.validate(config)
  kind = kinds.get(config.data.kind)
  banks = []

  def eval_batches(c, split, **kwargs):
    if split == c.data.train_split:
      banks.append(kwargs["max_examples"])
    return kind.eval_batches(c, split, **kwargs)

  run = setup.build(config, kind.batch_spec(config))
  state = run.init(run.init_key)
  context = base.Context(
    config,
    run.method,
    run.mesh,
    kind.info(config),
    dataclasses.replace(kind, eval_batches=eval_batches),
  )
  evaluator = representation.build(context)
  evaluator.evaluate(state)
  evaluator.evaluate(state, final=True)
  assert banks == [64, 128]
  evaluator.baselines(state)  # raw pixels, PCA and random init
  assert banks[2:] == [128, 128]
  config.eval.final_max_train_examples = -1  # as during training
  evaluator.evaluate(state, final=True)
  assert banks[-1] == 64
