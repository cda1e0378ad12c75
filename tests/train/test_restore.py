"""train.restore: a finished run's state back from its workdir."""

import shutil

import jax
import numpy as np
import pytest

from jaxssl import configs_lib, evals, train
from jaxssl.data import kinds
from jaxssl.train import writer

pytestmark = pytest.mark.slow


def _config():
  config = configs_lib.load("quickstart", "smoke")
  config.train.total_steps = 4
  config.train.ckpt_every_steps = 2
  config.train.progress_bar = False
  config.eval.linear_probe = False
  return config


@pytest.fixture(scope="module", name="run")
def _run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("run"))
  return workdir, train.run(_config(), workdir)


def test_restore_gives_the_final_state_and_its_scores(run):
  workdir, summary = run
  restored = train.restore(workdir)  # the config from config.json
  assert restored.step == 4 and int(restored.state.step) == 4
  assert restored.config.to_dict() == configs_lib.validate(_config()).to_dict()
  kind = kinds.get(restored.config.data.kind)
  context = evals.Context(
    restored.config,
    restored.method,
    restored.mesh,
    kind.info(restored.config),
    kind,
  )
  scores = evals.build(context)["representation"].evaluate(
    restored.state, final=True
  )
  assert scores["eval/knn_top1"] == pytest.approx(summary["eval/knn_top1"])


def test_restore_an_earlier_step_and_bad_paths(run, tmp_path):
  workdir, _ = run
  early = train.restore(workdir, _config(), step=2)
  last = train.restore(workdir, _config())
  assert int(early.state.step) == 2
  differ = jax.tree.map(
    lambda a, b: not np.array_equal(a, b),
    early.state.params,
    last.state.params,
  )
  assert any(jax.tree.leaves(differ))
  with pytest.raises(FileNotFoundError, match="no checkpoint at step 3"):
    train.restore(workdir, _config(), step=3)
  with pytest.raises(FileNotFoundError, match="config.json: no such file"):
    train.restore(str(tmp_path))


def test_resume_with_remat_flipped_continues_the_run(run, tmp_path):
  # model.remat is safe to change on resume (jaxssl.train.resume): the same
  # parameter tree, the same numbers up to float reassociation.
  workdir, _ = run
  losses = {}
  for remat in (False, True):
    copy = tmp_path / f"remat_{remat}"
    shutil.copytree(workdir, copy)
    config = _config()
    config.train.total_steps = 6
    config.model.remat = remat
    summary = train.run(config, str(copy))
    assert summary["resumed_from"] == 4 and summary["steps"] == 6
    rows = [r for r in writer.read_metrics(str(copy)) if "train/loss" in r]
    losses[remat] = {r["step"]: r["train/loss"] for r in rows}
  assert sorted(losses[True]) == [1, 2, 3, 4, 5, 6]
  for step in (5, 6):
    np.testing.assert_allclose(
      losses[True][step], losses[False][step], rtol=1e-4, err_msg=f"{step}"
    )
