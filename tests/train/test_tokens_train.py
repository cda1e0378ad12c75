"""Kind `tokens` through `train.run`: the acceptance check of the text data.

No shipped method reads text yet, so a tiny next-token model (embeddings
and an output projection: a bigram language model) is registered here with
`data_kinds=("tokens",)`. It trains a few steps on the embedded corpus on
the 8-device mesh, checkpoints, and resumes exactly.
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import train_testing

from jaxssl import configs_lib, methods, train
from jaxssl.data import tokenizer
from jaxssl.data.kinds import tokens
from jaxssl.methods import base
from jaxssl.train import loop, writer

pytestmark = pytest.mark.slow


def _build_bigram(config):
  vocab, width = config.data.vocab_size, config.method.width

  def init(rng, batch):
    del batch
    k1, k2 = jax.random.split(rng)
    return {
      "embed": jax.random.normal(k1, (vocab, width)) * 0.02,
      "out": jax.random.normal(k2, (width, vocab)) * 0.02,
    }, {}

  def loss(params, extra, batch, rng, step):
    del rng, step
    x, y = batch["tokens"][:, :-1], batch["tokens"][:, 1:]
    logits = params["embed"][x] @ params["out"]
    nll = -jnp.take_along_axis(
      jax.nn.log_softmax(logits), y[..., None], axis=-1
    )[..., 0]
    counts = ~batch["is_pad"][:, 1:]
    value = jnp.sum(nll * counts) / jnp.maximum(jnp.sum(counts), 1)
    return value, (extra, {"loss": value})

  def features(params, extra, batch):
    del extra
    keep = ~batch["is_pad"]
    emb = params["embed"][batch["tokens"]] * keep[..., None]
    return emb.sum(1) / jnp.maximum(keep.sum(1, keepdims=True), 1)

  return base.Method(
    name="bigram", init=init, loss=loss, features=features, protocols=()
  )


BIGRAM = base.MethodDef(
  name="bigram",
  build=_build_bigram,
  config=lambda: ml_collections.ConfigDict({"width": 16}),
  data_kinds=("tokens",),
)


@pytest.fixture(autouse=True)
def _setup(monkeypatch, tmp_path_factory):
  monkeypatch.setitem(methods.METHODS, "bigram", BIGRAM)
  monkeypatch.setenv("JAXSSL_CACHE_DIR", str(tmp_path_factory.mktemp("c")))
  monkeypatch.setattr(tokenizer, "_LOADED", {})
  tokens.clear_cache()
  yield
  tokens.clear_cache()


def _config(kind):
  config = configs_lib.base_config("bigram")
  assert config.data.kind == "tokens"
  config.model.name = "none"
  config.data.tokenizer = kind
  config.data.vocab_size = 512
  config.data.seq_len = 32
  config.train.batch_size = 16
  config.train.total_steps = 6
  config.train.ckpt_every_steps = 3
  config.train.log_every_steps = 1
  config.train.progress_bar = False
  config.optim.name = "adamw"
  config.optim.lr = 0.05
  config.optim.lr_scaling = "none"
  config.optim.warmup_steps = 0
  config.mesh.data = 8
  return config


_StopAfterThree = train_testing.stop_after(3)


def _losses(workdir):
  return {
    r["step"]: r["train/loss"]
    for r in writer.read_metrics(str(workdir))
    if "train/loss" in r
  }


@pytest.mark.parametrize("kind", tokenizer.KINDS)
def test_tokens_train_checkpoint_and_resume_exactly(kind, tmp_path):
  straight = train.run(_config(kind), str(tmp_path / "a"))
  assert straight["steps"] == 6
  a = _losses(tmp_path / "a")
  assert len(a) == 6 and a[6] < a[1]
  assert abs(a[1] - np.log(512)) < 0.5  # starts at a uniform guess
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(loop, "_Preemption", _StopAfterThree)
    assert loop.run(_config(kind), str(tmp_path / "b"))["preempted"]
  tokens.clear_cache()  # the resumed run packs its windows anew
  resumed = loop.run(_config(kind), str(tmp_path / "b"))
  assert resumed["resumed_from"] == 3
  b = _losses(tmp_path / "b")
  for step in range(4, 7):
    assert a[step] == b[step], step
