"""Test-only text methods for the `mlm`, `next_token` and `sentence` tests.

One registry entry, `text_toy`, whose `config.method.variant` picks the
functions (all inference-only but `trained`):
  trained   a bigram LM (embeddings, output projection) trained with the
            next-token loss; mean token embedding as the sentence feature.
  counts    the exact add-one bigram of the train split's windows:
            logits = log p(w | u), so its perplexity is the bigram baseline.
  unigram   logits = the `mlm` protocol's unigram log-probabilities.
  oracle    corrupts the eval windows as the `mlm` protocol does, finds
            its input among them and predicts the original: accuracy 100.
  uniform   all-zero logits: perplexity V, argmax always token 0 ([PAD]).
  copy      predicts its input token: right on the 10% left unchanged and
            on the 10% randomised that drew the original.
  bag       features: the bag of the window's non-special tokens.
  constant  features: one constant vector.
"""

import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxssl import configs_lib, evals, methods
from jaxssl.data.kinds import tokens
from jaxssl.evals import language, ngram
from jaxssl.methods import base
from jaxssl.train import mesh as mesh_lib

V = 512  # config.data.vocab_size of the tests


def counted_bigram(config) -> np.ndarray:
  """[V, V] float32 log p(w | u) of the add-one bigram of the train split."""
  w = tokens.windows(config, config.data.train_split)
  u, t = ngram.targets(w["tokens"], w["is_pad"])
  counts = np.zeros((V, V))
  np.add.at(counts, (u, t), 1)
  return np.log((counts + 1) / (counts.sum(1, keepdims=True) + V)).astype(
    np.float32
  )


def _build(config):
  variant, width = config.method.variant, config.method.width
  specials = tokens.get_tokenizer(config)[1]

  def init(rng, batch):
    del batch
    k1, k2 = jax.random.split(rng)
    params = {
      "embed": jax.random.normal(k1, (V, width)) * 0.02,
      "out": jax.random.normal(k2, (width, V)) * 0.02,
    }
    extra = {}
    if variant == "counts":
      extra["log_p"] = jnp.asarray(counted_bigram(config))
    if variant == "unigram":
      mlm = types.SimpleNamespace(_config=config, _specials=specials)
      mlm._windows = lambda split: tokens.windows(config, split)  # pylint: disable=protected-access
      mlm.vocab_size = V
      log_p, _ = language.MaskedLM.unigram(mlm)
      extra["log_p"] = jnp.asarray(log_p, jnp.float32)
    if variant == "oracle":
      w = tokens.windows(config, config.data.eval_split)["tokens"]
      extra["windows"] = jnp.asarray(w)
      extra["corrupted"] = language.mask_windows(
        jnp.asarray(w),
        mask_id=specials.mask,
        vocab_size=V,
        special_ids=specials.ids(),
      )[0]
    return params, extra

  def loss(params, extra, batch, rng, step):
    del rng, step
    logits = params["embed"][batch["tokens"][:, :-1]] @ params["out"]
    nll, _ = language._scores(logits, batch["tokens"][:, 1:])  # pylint: disable=protected-access
    keep = ~batch["is_pad"][:, 1:]
    value = jnp.sum(nll * keep) / jnp.maximum(jnp.sum(keep), 1)
    return value, (extra, {"loss": value})

  def logits(params, extra, batch):
    x = batch["tokens"]
    if variant == "counts":
      return extra["log_p"][x]
    if variant == "unigram":
      return jnp.broadcast_to(extra["log_p"], x.shape + (V,))
    if variant == "oracle":
      same = (x[:, None, :] == extra["corrupted"][None]).all(-1)
      original = extra["windows"][jnp.argmax(same, axis=1)]
      return 30.0 * jax.nn.one_hot(original, V)
    if variant == "uniform":
      return jnp.zeros(x.shape + (V,))
    if variant == "copy":
      return 30.0 * jax.nn.one_hot(x, V)
    return params["embed"][x] @ params["out"]

  def features(params, extra, batch):
    del extra
    keep = ~batch["is_pad"] & ~jnp.isin(
      batch["tokens"], jnp.asarray(specials.ids())
    )
    if variant == "constant":
      return jnp.ones((batch["tokens"].shape[0], 4))
    if variant == "bag":
      return (jax.nn.one_hot(batch["tokens"], V) * keep[..., None]).sum(1)
    emb = params["embed"][batch["tokens"]] * keep[..., None]
    return emb.sum(1) / jnp.maximum(keep.sum(1, keepdims=True), 1)

  return base.Method(
    name="text_toy",
    init=init,
    loss=loss,
    features=features,
    logits=logits,
    protocols=tuple(config.method.protocols),
  )


TEXT_TOY = base.MethodDef(
  name="text_toy",
  build=_build,
  config=lambda: ml_collections.ConfigDict(
    {
      "variant": "trained",
      "width": 16,
      "protocols": ("mlm", "next_token", "sentence"),
    }
  ),
  data_kinds=("tokens",),
)


@pytest.fixture(scope="module")
def text_toy(data_caches):
  """Registers `text_toy` and a module-wide cache (tokenizers trained once)."""
  data_caches.setitem(methods.METHODS, "text_toy", TEXT_TOY)
  return data_caches


def config(variant="trained", **overrides):
  """A small validated `text_toy` config on the embedded corpus."""
  c = configs_lib.base_config("text_toy")
  c.method.variant = variant
  c.model.name = "none"
  c.data.vocab_size = V
  c.data.seq_len = 32
  c.train.batch_size = 16
  c.eval.batch_size = 64
  c.mesh.data = 8
  for key, value in overrides.items():
    section, name = key.split(".")
    c[section][name] = value
  return configs_lib.validate(c)


def evaluator(protocol, c, seed=0):
  """(the built protocol, a step-0 state) of `c`'s text_toy method."""
  method = methods.get("text_toy").build(c)
  mesh = mesh_lib.make_mesh(c.mesh)
  kind = tokens.KIND
  context = evals.Context(c, method, mesh, kind.info(c), kind)
  params, extra = method.init(jax.random.key(seed), None)
  state = types.SimpleNamespace(params=params, extra=extra, step=0)
  return evals.PROTOCOLS[protocol](context), state


def scores() -> dict:
  """Every text protocol's metrics, baselines and texts on small settings
  (what the multi-process test compares across process counts)."""
  over = {"mesh.data": -1, "eval.max_train_examples": 200}
  out = {}
  for protocol, variant in (
    ("mlm", "counts"),
    ("next_token", "counts"),
    ("sentence", "trained"),
  ):
    ev, state = evaluator(protocol, config(variant, **over))
    out.update(ev.evaluate(state))
    out.update(ev.baselines(state))
    if hasattr(ev, "texts"):
      out.update(ev.texts(state))
  return out
