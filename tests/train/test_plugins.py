"""The plug-in contract: a method, a data kind and a protocol from outside.

Everything below is defined in this file, not in the package: a data kind
of random vectors (no images at all), a linear auto-encoder method that
reads it, and a protocol that scores its features. They are registered in
the plain registries and trained with `train.run`: no edit to the loop or
to `configs_lib`. The run checkpoints and resumes exactly like the shipped
methods.
"""

import itertools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import train_testing

from jaxssl import configs_lib, evals, methods, train
from jaxssl.data import kinds
from jaxssl.methods import base
from jaxssl.train import loop, writer

pytestmark = pytest.mark.slow

NUM_TRAIN, NUM_EVAL = 64, 24


def _vectors(split, dim):
  n = NUM_TRAIN if split == "train" else NUM_EVAL
  rng = np.random.default_rng(0 if split == "train" else 1)
  x = rng.normal(size=(n, dim)).astype(np.float32)
  return x, (x[:, 0] > 0).astype(np.int32)


def _train_batches(config, *, start_step=0, **_):
  x, y = _vectors("train", config.data.dim)
  b = config.train.batch_size

  def batches():
    for step in itertools.count(start_step):
      idx = np.random.default_rng(step).choice(NUM_TRAIN, b, replace=False)
      yield {"x": x[idx], "label": y[idx]}

  return batches()


def _eval_batches(config, split, *, batch_size, max_examples=0, **_):
  x, y = _vectors(split, config.data.dim)
  for i in range(0, len(x), batch_size):
    xb, yb = x[i : i + batch_size], y[i : i + batch_size]
    pad = batch_size - len(xb)
    yield {
      "x": np.pad(xb, ((0, pad), (0, 0))),
      "label": np.pad(yb, (0, pad)),
      "valid": np.arange(batch_size) < len(xb),
    }


def _spec(config, b):
  return {
    "x": jax.ShapeDtypeStruct((b, config.data.dim), jnp.float32),
    "label": jax.ShapeDtypeStruct((b,), jnp.int32),
  }


def _validate(config):
  if config.data.dim < 2:
    raise ValueError(f"config.data.dim={config.data.dim}: must be >= 2")


VECTORS = kinds.DataKind(
  name="vectors",
  config=lambda: ml_collections.ConfigDict({"dim": 6}),
  validate=_validate,
  info=lambda config: kinds.DatasetInfo(2, NUM_TRAIN, NUM_EVAL),
  train_batches=_train_batches,
  eval_batches=_eval_batches,
  batch_spec=lambda config: _spec(config, config.train.batch_size),
  eval_spec=_spec,
  size_hint=lambda config: f"config.data.dim={config.data.dim}",
  smoke=lambda config, image_size: None,
)


def _build_autoencoder(config):
  width = config.method.width

  def init(rng, batch):
    d = batch["x"].shape[-1]
    w = jax.random.normal(rng, (d, width)) / np.sqrt(d)
    return {"w": w, "b": jnp.zeros((d,))}, {}

  def loss(params, extra, batch, rng, step):
    del rng, step
    z = batch["x"] @ params["w"]
    recon = z @ params["w"].T + params["b"]
    value = jnp.mean((recon - batch["x"]) ** 2)
    return value, (extra, {"loss": value})

  def features(params, extra, batch):
    del extra
    return batch["x"] @ params["w"]

  return base.Method(
    name="autoencoder",
    init=init,
    loss=loss,
    features=features,
    protocols=("feature_norm",),
  )


AUTOENCODER = base.MethodDef(
  name="autoencoder",
  build=_build_autoencoder,
  config=lambda: ml_collections.ConfigDict({"width": 3}),
  data_kinds=("vectors",),
)


class _FeatureNorm:
  """Mean feature norm on the eval split: a protocol of one number."""

  def __init__(self, context):
    self._c = context
    self._features = jax.jit(context.method.features)

  def evaluate(self, state, *, final=False):
    del final
    c = self._c.config
    norms = []
    for b in self._c.kind.eval_batches(c, c.data.eval_split, batch_size=8):
      f = np.asarray(self._features(state.params, state.extra, b))
      norms.append(np.linalg.norm(f, axis=-1)[b["valid"]])
    return {"eval/feature_norm": float(np.concatenate(norms).mean())}

  def baselines(self, state):
    return {f"{k}_random_init": v for k, v in self.evaluate(state).items()}


@pytest.fixture(name="plugins")
def _plugins(monkeypatch):
  monkeypatch.setitem(kinds.KINDS, "vectors", VECTORS)
  monkeypatch.setitem(methods.METHODS, "autoencoder", AUTOENCODER)
  monkeypatch.setitem(evals.PROTOCOLS, "feature_norm", _FeatureNorm)


def _config(**overrides):
  config = configs_lib.base_config("autoencoder")
  config.model.name = "none"  # the toy method builds no backbone
  config.train.batch_size = 16
  config.train.total_steps = 6
  config.train.ckpt_every_steps = 3
  config.train.log_every_steps = 1
  config.train.progress_bar = False
  config.optim.name = "sgd"
  config.optim.lr = 0.5
  config.optim.lr_scaling = "none"
  config.optim.warmup_steps = 0
  config.mesh.data = 8
  for key, value in overrides.items():
    section, name = key.split(".")
    config[section][name] = value
  return config


def test_outside_method_kind_and_protocol_train_through_run(plugins, tmp_path):
  config = _config()
  assert config.data.kind == "vectors" and config.data.dim == 6
  assert "views" not in config.data and "image_size" not in config.data
  summary = train.run(config, str(tmp_path / "run"))
  assert summary["steps"] == 6
  assert summary["eval/feature_norm"] > 0
  assert "eval/feature_norm_random_init" in summary
  rows = [
    r for r in writer.read_metrics(str(tmp_path / "run")) if "train/loss" in r
  ]
  losses = [r["train/loss"] for r in rows]
  assert len(losses) == 6 and losses[-1] < losses[0]
  text = loop.format_summary(summary, "autoencoder", config)
  assert "eval/feature_norm" in text and "random-init encoder" in text


_StopAfterThree = train_testing.stop_after(3)


def test_outside_plugins_resume_exactly(plugins, tmp_path, monkeypatch):
  straight = loop.run(_config(), str(tmp_path / "a"))
  monkeypatch.setattr(loop, "_Preemption", _StopAfterThree)
  assert loop.run(_config(), str(tmp_path / "b"))["preempted"]
  monkeypatch.undo()
  monkeypatch.setitem(kinds.KINDS, "vectors", VECTORS)
  monkeypatch.setitem(methods.METHODS, "autoencoder", AUTOENCODER)
  monkeypatch.setitem(evals.PROTOCOLS, "feature_norm", _FeatureNorm)
  resumed = loop.run(_config(), str(tmp_path / "b"))
  assert resumed["resumed_from"] == 3
  a, b = (
    {r["step"]: r for r in writer.read_metrics(str(d)) if "train/loss" in r}
    for d in (tmp_path / "a", tmp_path / "b")
  )
  for step in range(4, 7):
    assert a[step]["train/loss"] == b[step]["train/loss"], step
  assert straight["eval/feature_norm"] == resumed["eval/feature_norm"]


def test_outside_plugin_keys_are_checked(plugins):
  config = _config(**{"data.dim": 1})
  with pytest.raises(ValueError, match=r"config.data.dim=1"):
    configs_lib.validate(config)
  config = _config()
  config.method.unlock()
  config.method.depth = 2
  with pytest.raises(ValueError, match="'method.depth' of method"):
    configs_lib.validate(config)
  config = _config()
  config.data.unlock()
  config.data.views = configs_lib.ConfigDict()
  with pytest.raises(ValueError, match="'data.views' with data kind"):
    configs_lib.validate(config)


def test_protocol_outside_the_method_is_refused(plugins):
  config = _config(**{"eval.protocols": ("representation",)})
  method = methods.build(config)
  with pytest.raises(ValueError, match="does not fit method 'autoencoder'"):
    evals.selected(config, method)
  config = _config(**{"eval.protocols": ("nope",)})
  with pytest.raises(ValueError, match="'nope' is not one of"):
    evals.selected(config, method)
