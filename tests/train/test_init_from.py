"""config.train.init_from: a fresh run's params from a finished run (LiT,
SimCSE from bert_mlm); shape and path errors; not applied on resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib, train
from jaxssl.data import kinds
from jaxssl.train import init_from
from jaxssl.train import setup as setup_lib

LIT_MAP = (
  "params/image=params/backbone,extra/batch_stats=extra/batch_stats/backbone"
)


@pytest.fixture(scope="module", autouse=True)
def _cache(data_caches):
  return data_caches


def _smoke(name, arg="smoke", **train_keys):
  config = configs_lib.load(name, arg)
  config.train.progress_bar = False
  config.eval.baselines = False
  for key, value in train_keys.items():
    config.train[key] = value
  return configs_lib.validate(config)


@pytest.mark.parametrize(
  "spec, match",
  [
    ("params/a", "not 'new=loaded'"),
    ("params/a=", "not 'new=loaded'"),
    ("model=params/model", "rooted at 'params' or 'extra'"),
    (" , ", "no 'new=loaded' pair"),
  ],
)
def test_bad_map_is_one_line_naming_the_key(spec, match):
  with pytest.raises(ValueError, match=match) as e:
    init_from.parse_map(spec)
  assert "config.train.init_from_map" in str(e.value)
  assert "\n" not in str(e.value)


def test_parse_map_pairs():
  assert init_from.parse_map(LIT_MAP) == [
    (("params", "image"), ("params", "backbone")),
    (("extra", "batch_stats"), ("extra", "batch_stats", "backbone")),
  ]


def test_copy_checks_shapes_and_paths_and_ignores_extra_loaded_leaves():
  new = {"a": {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)}}
  old = {"a": {"w": np.ones((2, 3)), "b": np.full(3, 2.0), "head": np.ones(5)}}
  out, n = init_from._copy(new, old, "params")  # pylint: disable=protected-access
  assert n == 2
  np.testing.assert_array_equal(out["a"]["w"], np.ones((2, 3)))
  np.testing.assert_array_equal(out["a"]["b"], np.full(3, 2.0))
  assert out["a"]["w"].dtype == jnp.float32
  bad = {"a": {"w": np.ones((3, 3)), "b": np.ones(3)}}
  with pytest.raises(
    ValueError, match=r"params/a/w has shape \(2, 3\) here but \(3, 3\)"
  ):
    init_from._copy(new, bad, "params")  # pylint: disable=protected-access
  with pytest.raises(ValueError, match="params/a/b has no counterpart"):
    init_from._copy(new, {"a": {"w": np.ones((2, 3))}}, "params")  # pylint: disable=protected-access


@pytest.mark.slow
def test_missing_workdir_is_named(tmp_path):
  config = _smoke(
    "lit_quick", f"smoke,image_run={tmp_path}/nothing", ckpt_every_steps=0
  )
  with pytest.raises(FileNotFoundError, match="nothing"):
    train.run(config, str(tmp_path / "lit"))


@pytest.mark.slow
def test_simcse_from_bert_mlm_copies_the_encoder_and_not_the_mlm_head(
  tmp_path,
):
  mlm = str(tmp_path / "mlm")
  train.run(_smoke("bert_mlm_quick"), mlm)
  config = _smoke(
    "simcse_quick", init_from=mlm, init_from_map="params/model=params/model"
  )
  run = setup_lib.build(config, kinds.get("tokens").batch_spec(config))
  fresh = run.init(run.init_key)
  state, n = init_from.apply(fresh, config)
  loaded = train.restore(mlm).state.params["model"]
  assert n == len(jax.tree.leaves(fresh.params["model"]))
  assert not any(k.startswith("mlm_") for k in state.params["model"])
  for key, value in state.params["model"].items():
    jax.tree.map(np.testing.assert_array_equal, value, loaded[key])
  # The pooler (SimCSE's own) keeps its fresh initialisation.
  jax.tree.map(
    np.testing.assert_array_equal,
    state.params["pooler"],
    fresh.params["pooler"],
  )
  bad = config.copy_and_resolve_references()
  bad.train.init_from_map = "params/pooler=params/model/embed"
  with pytest.raises(ValueError, match="params/pooler/dense has no"):
    init_from.apply(run.init(run.init_key), bad)


@pytest.mark.slow
def test_lit_image_tower_is_bit_identical_after_training(tmp_path, monkeypatch):
  simclr = str(tmp_path / "simclr")
  train.run(_smoke("quickstart"), simclr)
  image = train.restore(simclr).state
  config = _smoke("lit_quick", f"smoke,image_run={simclr}")
  lit = str(tmp_path / "lit")
  train.run(config, lit)
  after = train.restore(lit).state
  jax.tree.map(
    np.testing.assert_array_equal,
    after.params["image"],
    image.params["backbone"],
  )
  jax.tree.map(
    np.testing.assert_array_equal,
    after.extra["batch_stats"],
    image.extra["batch_stats"]["backbone"],
  )
  # The text tower and the image projection move.
  run = setup_lib.build(config, kinds.get("image_text").batch_spec(config))
  fresh = run.init(run.init_key)
  for key in ("text", "image_proj"):
    moved = jax.tree.map(
      lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))),
      after.params[key],
      fresh.params[key],
    )
    assert any(jax.tree.leaves(moved)), key
  # A resumed run takes its own checkpoint: init_from is not applied again
  # (the map would fail if it were).
  calls = []
  monkeypatch.setattr(init_from, "apply", lambda *a: calls.append(a))
  longer = config.copy_and_resolve_references()
  longer.train.total_steps = config.train.total_steps + 1
  train.run(longer, lit)
  assert not calls
