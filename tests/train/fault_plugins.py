"""A seconds-long toy run for the fault tests, in-process or as a subprocess.

A data kind of random vectors and a linear auto-encoder whose loss turns
NaN at `config.method.nan_at_step` (-1: never), with an EMA of its weights
in `extra`. Run as a script, it registers both and trains
`config(workdir, **overrides)`, printing the summary as JSON:
`python tests/train/fault_plugins.py <workdir> [section.key=value ...]`.

For kills at chosen moments, the script (or `announce`) also writes a file
into the folder `$FAULT_MARKERS` as each phase starts: `save_<step>` when
a checkpoint's background write starts (held `$FAULT_HOLD_SAVE_S` seconds
there, with the save incomplete on disk while the loop trains on), and
`eval_<step>` when an evaluation starts (which lasts `10 * data.sleep_s`).
"""

import functools
import itertools
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxssl import configs_lib, evals, methods, train
from jaxssl.data import kinds
from jaxssl.methods import base
from jaxssl.train import checkpoint, writer

NUM_TRAIN, NUM_EVAL = 64, 16


def _vectors(split, dim):
  n = NUM_TRAIN if split == "train" else NUM_EVAL
  rng = np.random.default_rng(0 if split == "train" else 1)
  x = rng.normal(size=(n, dim)).astype(np.float32)
  return x, (x[:, 0] > 0).astype(np.int32)


def _train_batches(config, *, start_step=0, **_):
  x, y = _vectors("train", config.data.dim)
  b = config.train.batch_size
  for step in itertools.count(start_step):
    if config.data.sleep_s:  # host time only: keeps a subprocess killable
      time.sleep(config.data.sleep_s)
    idx = np.random.default_rng(step).choice(NUM_TRAIN, b, replace=False)
    yield {"x": x[idx], "label": y[idx]}


def _eval_batches(config, split, *, batch_size, max_examples=0, **_):
  del max_examples
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


NOISE = kinds.DataKind(
  name="noise_vectors",
  config=lambda: ml_collections.ConfigDict({"dim": 64, "sleep_s": 0.0}),
  validate=lambda config: None,
  info=lambda config: kinds.DatasetInfo(2, NUM_TRAIN, NUM_EVAL),
  train_batches=_train_batches,
  eval_batches=_eval_batches,
  batch_spec=lambda config: _spec(config, config.train.batch_size),
  eval_spec=_spec,
  size_hint=lambda config: f"config.data.dim={config.data.dim}",
  smoke=lambda config, image_size: None,
)


def _build(config):
  width, nan_at = config.method.width, config.method.nan_at_step

  def init(rng, batch):
    d = batch["x"].shape[-1]
    w = jax.random.normal(rng, (d, width)) / np.sqrt(d)
    return {"w": w, "b": jnp.zeros((d,))}, {"ema_w": w}

  def loss(params, extra, batch, rng, step):
    del rng
    z = batch["x"] @ params["w"]
    recon = z @ params["w"].T + params["b"]
    value = jnp.mean((recon - batch["x"]) ** 2)
    # NaN times the loss: the gradients turn NaN too, as in a divergence.
    value = value * jnp.where(step == nan_at, jnp.nan, 1.0)
    return value, (extra, {"recon": value, "w_mean": jnp.mean(params["w"])})

  def update_extra(params, extra, step):
    del step
    return {"ema_w": 0.9 * extra["ema_w"] + 0.1 * params["w"]}

  def features(params, extra, batch):
    del extra
    return batch["x"] @ params["w"]

  return base.Method(
    name="faulty_ae",
    init=init,
    loss=loss,
    features=features,
    update_extra=update_extra,
    protocols=("feature_norm",),
  )


FAULTY_AE = base.MethodDef(
  name="faulty_ae",
  build=_build,
  config=lambda: ml_collections.ConfigDict({"width": 16, "nan_at_step": -1}),
  data_kinds=("noise_vectors",),
)


class FeatureNorm:
  """Mean feature norm on the eval split: a protocol of one number."""

  def __init__(self, context):
    self._c = context
    self._features = jax.jit(context.method.features)

  def evaluate(self, state, *, final=False):
    del final
    c = self._c.config
    _mark(f"eval_{int(jax.device_get(state.step))}")
    time.sleep(10 * c.data.sleep_s)  # an evaluation a kill can land in
    norms = []
    for b in self._c.kind.eval_batches(c, c.data.eval_split, batch_size=8):
      f = np.asarray(self._features(state.params, state.extra, b))
      norms.append(np.linalg.norm(f, axis=-1)[b["valid"]])
    return {"eval/feature_norm": float(np.concatenate(norms).mean())}

  def baselines(self, state):
    del state
    return {}


def _mark(name: str) -> None:
  """Creates `$FAULT_MARKERS/<name>` (a no-op without the variable)."""
  folder = os.environ.get("FAULT_MARKERS")
  if folder:
    with open(os.path.join(folder, name), "w", encoding="utf-8"):
      pass


def announce(setattr_) -> None:
  """Marks each checkpoint's background write (`save_<step>`) and holds it
  `$FAULT_HOLD_SAVE_S` seconds before it goes on (`monkeypatch.setattr`).

  The write is the one Orbax runs in its thread after `maybe_save` has
  returned: the hashes fetched, the fingerprint written, then the step's
  temporary directory renamed into `<step>`.
  """
  write = checkpoint._write_fingerprint  # pylint: disable=protected-access
  hold = float(os.environ.get("FAULT_HOLD_SAVE_S", "0"))

  async def held(directory, pending):
    path = str(getattr(directory, "path", directory))  # <step>.orbax-...tmp
    _mark(f"save_{os.path.basename(os.path.dirname(path)).split('.')[0]}")
    time.sleep(hold)
    await write(directory, pending)

  setattr_(checkpoint, "_write_fingerprint", held)


def register(setitem) -> None:
  """Registers the kind, method and protocol (`monkeypatch.setitem`)."""
  setitem(kinds.KINDS, "noise_vectors", NOISE)
  setitem(methods.METHODS, "faulty_ae", FAULTY_AE)
  setitem(evals.PROTOCOLS, "feature_norm", FeatureNorm)


def config(**overrides):
  """The toy run: 6 steps of batch 16 on 8 devices, checkpoints every 3."""
  c = configs_lib.base_config("faulty_ae")
  c.model.name = "none"  # the toy method builds no backbone
  c.train.batch_size = 16
  c.train.total_steps = 6
  c.train.ckpt_every_steps = 3
  c.train.max_to_keep = 3
  c.train.log_every_steps = 1
  c.train.progress_bar = False
  c.optim.name = "sgd"
  c.optim.lr = 0.5
  c.optim.lr_scaling = "none"
  c.optim.warmup_steps = 0
  c.eval.baselines = False
  c.mesh.data = 8
  for key, value in overrides.items():
    *section, name = key.split(".")
    (c[section[0]] if section else c)[name] = value
  return c


def _parse(item):
  key, _, value = item.partition("=")
  return key, json.loads(value)


if __name__ == "__main__":
  register(lambda d, k, v: d.__setitem__(k, v))
  announce(setattr)
  # No TensorBoard events: importing TensorFlow would triple the start-up.
  writer.MetricWriter = functools.partial(
    writer.MetricWriter, tensorboard=False
  )
  summary = train.run(config(**dict(map(_parse, sys.argv[2:]))), sys.argv[1])
  print("SUMMARY " + json.dumps(summary), flush=True)
