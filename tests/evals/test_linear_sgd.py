"""Protocol linear_sgd: learning on a separable set through the real image
pipeline, a frozen backbone (untouched, no gradient), its step count, its
config checks, and `python -m jaxssl.eval --protocol linear_sgd`."""

import json
import os
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib, evals, train
from jaxssl import eval as eval_cli
from jaxssl.data import kinds
from jaxssl.evals import linear_sgd, supervised_head
from jaxssl.methods import base
from jaxssl.train import mesh as mesh_lib

_SIZE = 16


@pytest.fixture(scope="module", name="data_dir")
def _data_dir(tmp_path_factory):
  """An .npz of 4 classes, each image its class's colour plus noise."""
  rng = np.random.default_rng(0)
  colours = rng.uniform(40, 215, size=(4, 3))
  arrays = {}
  for split, n in (("train", 256), ("test", 128)):
    y = rng.integers(0, 4, n)
    noise = rng.normal(0, 8, (n, _SIZE, _SIZE, 3))
    x = np.clip(colours[y][:, None, None] + noise, 0, 255)
    arrays[f"x_{split}"] = x.astype(np.uint8)
    arrays[f"y_{split}"] = y.astype(np.int64)
  path = tmp_path_factory.mktemp("arrays") / "toy.npz"
  np.savez(path, **arrays)
  return str(path)


def _method():
  def features(params, extra, batch):
    del extra
    pooled = batch["image"].mean(axis=(1, 2))
    return jnp.tanh(pooled @ params["w"] + params["b"])

  return base.Method(name="toy", init=None, loss=None, features=features)


def _params():
  w = jax.random.normal(jax.random.key(0), (3, 16))
  return {"w": w, "b": jnp.zeros(16)}


def _config(data_dir, **eval_keys):
  config = configs_lib.base_config()
  config.data.name = "arrays"
  config.data.data_dir = data_dir
  config.data.image_size = _SIZE
  config.data.views.views.size = _SIZE
  config.mesh.data = 8
  config.eval.batch_size = 64
  config.eval.linear_sgd_steps = 40
  config.eval.linear_sgd_batch_size = 32
  config.eval.linear_sgd_lr = 8.0  # peak 1.0 at batch 32
  for k, v in eval_keys.items():
    config.eval[k] = v
  return configs_lib.validate(config)


def _build(config, method=None):
  kind = kinds.get(config.data.kind)
  mesh = mesh_lib.make_mesh(config.mesh)
  context = evals.Context(
    config, method or _method(), mesh, kind.info(config), kind
  )
  return linear_sgd.build(context)


@pytest.mark.parametrize(
  "optimizer,augment",
  [("sgd", "random_resized_crop"), ("lars", "pad_crop")],
)
def test_learns_a_separable_set_and_leaves_the_backbone_untouched(
  data_dir, optimizer, augment
):
  config = _config(
    data_dir, linear_sgd_optimizer=optimizer, linear_sgd_augment=augment
  )
  evaluator = _build(config)
  state = types.SimpleNamespace(params=_params(), extra={})
  before = jax.tree.map(np.array, state.params)
  scores = evaluator.evaluate(state)
  assert set(scores) == {"eval/linear_sgd_top1", "eval/linear_sgd_top5"}
  # Chance is ~25%; the classes are separable by colour.
  assert scores["eval/linear_sgd_top1"] > 90.0
  assert scores["eval/linear_sgd_top5"] == 100.0  # 4 classes
  jax.tree.map(np.testing.assert_array_equal, state.params, before)
  assert evaluator.evaluate(state) == scores  # fixed seeds: deterministic
  _, losses = evaluator.fit(state.params, state.extra)
  assert len(losses) == 40
  assert losses[-1] < 0.5 * losses[0]


def test_the_backbone_receives_no_gradient(data_dir):
  evaluator = _build(_config(data_dir))
  params = _params()
  head = supervised_head.init_head(16, 4)
  images = jax.random.uniform(jax.random.key(1), (8, _SIZE, _SIZE, 3))
  labels = jnp.arange(8) % 4
  g_head, g_params = jax.grad(evaluator.loss_fn, argnums=(0, 1))(
    head, params, {}, images, labels
  )
  assert float(jnp.abs(g_head["w"]).sum()) > 0
  for g in jax.tree.leaves(g_params):
    np.testing.assert_array_equal(g, np.zeros_like(g))
  # Without the stop-gradient the same loss would reach the backbone.
  head = {"w": jnp.ones((16, 4)).at[:, 0].set(2.0), "b": jnp.zeros(4)}

  def unfrozen(p):
    feats = _method().features(p, {}, {"image": images})
    logits = supervised_head.apply_head(head, feats)
    return jnp.mean(jax.nn.logsumexp(logits, -1) - logits[:, 0])

  assert float(jnp.abs(jax.grad(unfrozen)(params)["w"]).sum()) > 0


def test_steps_from_epochs_and_the_probe_stream(data_dir):
  config = _config(
    data_dir,
    linear_sgd_steps=0,
    linear_sgd_epochs=2.5,
    linear_sgd_lr=0.4,
    linear_sgd_crop_scale=(0.3, 0.9),
  )
  evaluator = _build(config)
  assert evaluator.steps == 20  # ceil(2.5 * 256 / 32)
  assert evaluator.peak_lr == pytest.approx(0.4 * 32 / 256)
  probe = linear_sgd.train_config(config)
  group = probe.data.views.image
  assert (group.num_views, group.size, group.flip_prob) == (1, _SIZE, 0.5)
  assert tuple(group.crop_scale) == (0.3, 0.9) and group.jitter_prob == 0
  assert probe.train.batch_size == 32 and "views" not in probe.data.views
  batch = next(iter(evaluator._train_batches()))
  assert batch["image"].shape == (32, 1, _SIZE, _SIZE, 3)


def test_optimizer_closed_forms():
  # One SGD step from zero momentum moves w by -lr * (g + wd * w) on
  # kernels; the bias gets no weight decay.
  params = {"w": jnp.full((2, 2), 2.0), "b": jnp.full((2,), 2.0)}
  grads = {"w": jnp.full((2, 2), 0.5), "b": jnp.full((2,), 0.5)}
  opt = supervised_head.optimizer(
    "sgd", 0.1, 10, weight_decay=0.1, nesterov=False
  )
  updates, _ = opt.update(grads, opt.init(params), params)
  np.testing.assert_allclose(updates["w"], -0.1 * (0.5 + 0.1 * 2.0), rtol=1e-6)
  np.testing.assert_allclose(updates["b"], -0.1 * 0.5, rtol=1e-6)
  # LARS: a kernel's step is lr * 0.001 * |w| / |g| * g (|w| = 4, |g| = 1).
  lars = supervised_head.optimizer("lars", 0.1, 10, nesterov=False)
  updates, _ = lars.update(grads, lars.init(params), params)
  np.testing.assert_allclose(updates["w"], -0.1 * 0.001 * 4.0 * 0.5, rtol=1e-5)
  np.testing.assert_allclose(updates["b"], -0.1 * 0.5, rtol=1e-6)
  with pytest.raises(ValueError, match="optimizer='adam'"):
    supervised_head.optimizer("adam", 0.1, 10)


@pytest.mark.parametrize(
  "key,value",
  [
    ("linear_sgd_epochs", 0.0),
    ("linear_sgd_steps", -1),
    ("linear_sgd_batch_size", 0),
    ("linear_sgd_lr", 0.0),
    ("linear_sgd_optimizer", "adamw"),
    ("linear_sgd_weight_decay", -1e-4),
    ("linear_sgd_augment", "crop"),
    ("linear_sgd_crop_scale", (0.5, 0.2)),
    ("linear_sgd_crop_scale", (0.0, 1.0)),
  ],
)
def test_bad_keys_one_line_errors(key, value):
  config = configs_lib.base_config()
  config.eval[key] = value
  with pytest.raises(ValueError, match=f"config.eval.{key}=") as err:
    configs_lib.validate(config)
  assert "\n" not in str(err.value)


def test_build_errors_name_the_culprit(data_dir):
  config = _config(data_dir, linear_sgd_batch_size=12)
  with pytest.raises(ValueError, match="config.eval.linear_sgd_batch_size=12"):
    _build(config)
  text = configs_lib.base_config("gpt", data_kind="tokens")
  info = types.SimpleNamespace(num_classes=3, num_train=8)
  context = evals.Context(text, _method(), None, info, None)
  with pytest.raises(ValueError, match="config.data.kind='tokens'") as err:
    linear_sgd.build(context)
  assert "\n" not in str(err.value)


def test_opt_in_and_fit():
  method = _method()  # declares "representation" (the default)
  config = configs_lib.base_config()
  assert "linear_sgd" not in evals.selected(config, method)
  config.eval.protocols = ("linear_sgd",)
  assert evals.selected(config, method) == ("linear_sgd",)
  text = base.Method(
    name="text", init=None, loss=None, features=None, protocols=("mlm",)
  )
  with pytest.raises(ValueError, match="'linear_sgd' does not fit method"):
    evals.selected(config, text)


def test_imagenet_configs_set_each_papers_protocol():
  want = {  # optimizer, nesterov, batch, lr per 256, epochs, weight decay
    "simclr": ("sgd", True, 4096, 0.1, 90, 0.0),
    "byol": ("sgd", True, 1024, 0.2, 80, 0.0),
    "mocov3": ("sgd", False, 1024, 3.0, 90, 0.0),
    "dino": ("sgd", False, 1024, 0.001, 100, 0.0),
    "swav": ("sgd", False, 256, 0.3, 100, 1e-6),
    "barlow_twins": ("sgd", False, 256, 0.3, 100, 1e-6),
    "vicreg": ("sgd", False, 256, 0.02, 100, 1e-6),
    "simsiam": ("lars", False, 4096, 0.02, 90, 0.0),
    "mae": ("lars", False, 16384, 0.1, 90, 0.0),
  }
  for name, values in want.items():
    config = configs_lib.validate(
      configs_lib.load(f"configs/{name}_imagenet.py")
    )
    e = config.eval
    got = (
      e.linear_sgd_optimizer,
      e.linear_sgd_nesterov,
      e.linear_sgd_batch_size,
      e.linear_sgd_lr,
      e.linear_sgd_epochs,
      e.linear_sgd_weight_decay,
    )
    assert got == values, name
    assert e.linear_sgd_augment == "random_resized_crop"
    assert tuple(e.linear_sgd_crop_scale) == (0.08, 1.0)
    assert "linear_sgd" not in e.protocols  # opt-in


@pytest.mark.slow
def test_the_eval_cli_scores_linear_sgd_on_a_smoke_run(tmp_path):
  workdir = str(tmp_path)
  config = configs_lib.load("quickstart", "smoke")
  config.train.total_steps = 2
  config.train.progress_bar = False
  config.eval.linear_probe = False
  train.run(config, workdir)
  metrics = eval_cli.main(["--workdir", workdir, "--protocol", "linear_sgd"])
  assert set(metrics) == {"eval/linear_sgd_top1", "eval/linear_sgd_top5"}
  assert 0 <= metrics["eval/linear_sgd_top1"] <= metrics["eval/linear_sgd_top5"]
  assert metrics["eval/linear_sgd_top5"] <= 100
  path = os.path.join(workdir, "metrics.jsonl")
  with open(path, encoding="utf-8") as f:
    last = json.loads(f.read().strip().splitlines()[-1])
  assert last == {"step": 2, **metrics}
