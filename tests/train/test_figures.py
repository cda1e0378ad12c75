"""End-of-run figures (jaxssl.train.figures)."""

import json
import os

import jax
import numpy as np
import pytest

from jaxssl import configs_lib
from jaxssl.data import kinds
from jaxssl.train import figures, loop, restored
from jaxssl.train import mesh as mesh_lib

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
  with open(path, "rb") as f:
    head = f.read(24)
  # Signature, then the IHDR chunk with a nonzero width and height.
  width = int.from_bytes(head[16:20], "big")
  height = int.from_bytes(head[20:24], "big")
  return head[:8] == PNG_MAGIC and head[12:16] == b"IHDR" and width * height


def test_curves_read_metrics_jsonl(tmp_path):
  rows = [
    {"step": 1, "train/loss": 3.0, "train/lr": 0.1},
    {"step": 2, "train/loss": None, "train/lr": 0.1},  # a NaN, written null
    {"step": 2, "eval/knn_top1": 11.0},
    {"step": 4, "train/loss": 2.0},
    {"step": 4, "eval/knn_top1": 20.0},
    {"step": 4, "train/loss": 1.5},  # a resumed run logs step 4 again
  ]
  with open(tmp_path / "metrics.jsonl", "w", encoding="utf-8") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
  got = figures.curves(loop.writer_lib.read_metrics(str(tmp_path)))
  assert list(got) == ["train/loss", "eval/knn_top1"]  # no train/lr
  np.testing.assert_array_equal(got["train/loss"][0], [1, 4])
  np.testing.assert_array_equal(got["train/loss"][1], [3.0, 1.5])
  np.testing.assert_array_equal(got["eval/knn_top1"][0], [2, 4])
  rgb = figures.to_rgb(figures.plot_curves(rows, {"eval/knn_top1_raw": 5.0}))
  assert rgb.ndim == 3 and rgb.shape[-1] == 3 and 0 <= rgb.min() < rgb.max()
  with pytest.raises(ValueError, match="no train/loss or eval"):
    figures.plot_curves([{"step": 1, "train/lr": 0.1}])


def test_top_matches_cosine_order():
  keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
  queries = np.array([[2.0, 0.1], [-1.0, -3.0]])
  np.testing.assert_array_equal(
    figures.top_matches(queries, keys, 3), [[0, 2, 1], [3, 0, 2]]
  )


def test_tsne_2d_separates_clusters():
  rng = np.random.default_rng(0)
  centres = np.array([[0.0] * 8, [20.0] * 8])
  x = np.concatenate([c + rng.normal(size=(20, 8)) for c in centres])
  xy = figures.tsne_2d(x)
  assert xy.shape == (40, 2)
  # Every point is nearer its own cluster's 2-D centre than the other's.
  m0, m1 = xy[:20].mean(0), xy[20:].mean(0)
  d = np.linalg.norm(xy[:, None] - np.stack([m0, m1])[None], axis=-1)
  assert (d.argmin(1) == np.repeat([0, 1], 20)).all()


def test_figure_keys_in_every_config_and_checked():
  config = configs_lib.base_config("simclr")
  assert config.eval.figures is True and config.eval.tsne_examples == 1000
  assert configs_lib.make_smoke(config).eval.figures is False
  config.eval.tsne_examples = -1
  with pytest.raises(ValueError, match="eval.tsne_examples=-1"):
    configs_lib.validate(config)


def test_a_failing_figure_is_one_logged_line():
  lines = []

  def broken():
    raise RuntimeError("boom\nsecond line")

  assert figures._draw("x", broken, lines.append) is None
  assert lines == ["figure 'x' not drawn: RuntimeError: boom"]


@pytest.mark.slow
def test_clip_smoke_run_writes_valid_pngs_of_test_features(
  tmp_path, monkeypatch
):
  """One smoke run: every figure is a PNG, the t-SNE reads test features."""
  config = configs_lib.load("configs/clip_quick.py", "smoke")
  config.eval.figures = True
  config.eval.tsne_examples = 100
  config.train.progress_bar = False
  seen = {}
  real_tsne = figures.tsne_2d

  def spy(feats, **kw):
    seen["feats"] = np.array(feats)
    return real_tsne(feats, **kw)

  monkeypatch.setattr(figures, "tsne_2d", spy)
  workdir = str(tmp_path / "run")
  loop.run(config, workdir)
  folder = os.path.join(workdir, "figures")
  names = sorted(os.listdir(folder))
  assert names == [
    "learning_curves_3.png",
    "retrieval_i2t_3.png",
    "retrieval_t2i_3.png",
    "tsne_3.png",
    "views_3.png",
  ]
  assert all(_is_png(os.path.join(folder, n)) for n in names)
  # TensorBoard got them too.
  tb = os.path.join(workdir, "tb")
  assert any(
    os.path.getsize(os.path.join(tb, f)) > 10_000 for f in os.listdir(tb)
  )

  # The t-SNE input: the final backbone's features of the first 100 test
  # images, recomputed here from the checkpoint.
  run = restored.restore(workdir)
  kind = kinds.get(run.config.data.kind)
  batch = next(
    iter(kind.eval_batches(run.config, "test", batch_size=64, max_examples=64))
  )
  batch = mesh_lib.to_global(batch, run.mesh)
  want = jax.device_get(
    jax.jit(run.method.features)(run.state.params, run.state.extra, batch)
  )
  assert seen["feats"].shape[0] == 100
  np.testing.assert_allclose(seen["feats"][:64], want, rtol=1e-4, atol=1e-5)
