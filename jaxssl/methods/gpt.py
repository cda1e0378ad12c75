"""GPT next-token prediction on packed windows (a GPT-2 decoder).

Each step runs the causal decoder (`jaxssl.models.text`, GPT-2: pre-LN,
tied input/output embeddings, dropout on) over the batch's windows and
scores `jaxssl.losses.next_token`: position t predicts token t + 1,
counted where that target is not padding. With the byte-level BPE
tokenizer the windows are the documents packed end to end, each followed
by <|endoftext|> (which is predicted like any token, as GPT-2 does); only
a split's last window is padded.

The data kind is `tokens` with `data.tokenizer="bpe"` (the method's
base config sets it: `configs_lib.base_config("gpt")` merges the kind's
defaults first, so the config file does); "wordpiece" windows work too
(one document per window, [CLS] ... [SEP]) and are not rejected.

Metrics: `loss`; `accuracy`, top-1 next-token accuracy on the scored
positions; `z_std`, the collapse diagnostic over the non-padding token
states (`text_common.token_std`).

`Method.features`: the decoder's `method.text_pool` embedding in inference
mode (default "mean", over the non-padding tokens; "last", the last
non-padding token; "cls" is rejected: a causal first token sees only
itself); `Method.logits`: the next-token logits at every position.

References:
  Radford et al., Language Models are Unsupervised Multitask Learners
  (GPT-2), 2019, openai/gpt-2; Radford et al., Improving Language
  Understanding by Generative Pre-Training (GPT), 2018.
"""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections

from jaxssl import losses
from jaxssl.methods import base, text_common


def default_config() -> ml_collections.ConfigDict:
  """gpt's `config.method` keys (but `name`) and their defaults."""
  return text_common.text_model_config(pre_ln=True, text_pool="mean")


def check_config(config) -> None:
  """ValueError naming the key: a GPT-2 model, a pooling that fits a causal
  model, seq_len within the positions."""
  text_common.check_text_model(config, method="gpt", causal=True)


def build(config) -> base.Method:
  """gpt from `config.model.name` (a gpt2_* model) and the text model keys
  of `config.method`."""
  model = text_common.text_model(config)

  def apply(params, batch, *, train, rng=None):
    return model.apply(
      {"params": params["model"]},
      batch["tokens"],
      batch["is_pad"],
      train=train,
      logits=True,
      rngs={"dropout": rng} if train else None,
    )

  def init(rng, batch):
    return {
      "model": text_common.init_text_model(model, rng, batch, logits=True)
    }, {}

  def loss(params, extra, batch, rng, step):
    del step
    out = apply(params, batch, train=True, rng=rng)
    tokens, valid = batch["tokens"], ~batch["is_pad"]
    value = losses.next_token(out["logits"], tokens, valid)
    scored = valid[:, 1:]
    hit = (jnp.argmax(out["logits"][:, :-1], -1) == tokens[:, 1:]) & scored
    metrics = {
      "loss": value,
      "accuracy": jnp.sum(hit) / jnp.maximum(jnp.sum(scored), 1),
      "z_std": text_common.token_std(out["tokens"], batch["is_pad"]),
    }
    return value, (extra, metrics)

  def features(params, extra, batch):
    del extra
    out = model.apply(
      {"params": params["model"]}, batch["tokens"], batch["is_pad"], train=False
    )
    return out["feats"]

  def logits(params, extra, batch):
    del extra
    return apply(params, batch, train=False)["logits"]

  return base.Method(
    name="gpt",
    init=init,
    loss=loss,
    features=features,
    logits=logits,
    protocols=("next_token", "sentence"),
  )


METHOD = base.MethodDef(
  name="gpt",
  build=build,
  config=default_config,
  check=check_config,
  data_kinds=("tokens",),
)
