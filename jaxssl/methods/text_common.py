"""The text methods' shared pieces: `config.method` keys and checks of a text
model, the one place that turns `config.model` into a `TextTransformer`, the
run's tokenizer facts (vocabulary size, special ids) and the token-state
collapse metric. Used by bert_mlm, gpt, simcse and the text tower of clip.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import models
from jaxssl.models import text


def text_model_config(
  *, pre_ln: bool, text_pool: str, dropout: float = 0.1
) -> ml_collections.ConfigDict:
  """The `config.method` keys of a text model, with the method's defaults.

  Args:
    pre_ln: the default block layout (BERT: post-LN, False; GPT-2: True).
    text_pool: the default sentence embedding of `Method.features`.
    dropout: the default hidden and attention dropout (BERT, GPT-2 and
      SimCSE: 0.1).
  """
  m = ml_collections.ConfigDict()
  m.dropout = dropout  # hidden dropout (embeddings, sublayers), in [0, 1)
  m.attention_dropout = dropout  # on the attention probabilities, [0, 1)
  # Sentence embedding (Method.features): "cls" (the first token: BERT's
  # [CLS]), "mean" (over non-padding tokens) or "last" (the last non-pad
  # token: a causal model's summary).
  m.text_pool = text_pool
  m.pre_ln = pre_ln  # pre-LN blocks + final LN; False: post-LN as BERT
  m.max_positions = 0  # learned positions; 0: the model's (512 / 1024)
  return m


def check_text_model(config, *, method: str, causal: bool) -> None:
  """ValueError naming the key: a text model of the right kind, dropout in
  [0, 1), a pooling that fits it, data.seq_len within its positions."""
  name, m = config.model.name, config.method
  fit = sorted(
    k for k, f in models.TEXT_MODELS.items() if f(2).causal == causal
  )
  if name not in fit:
    raise ValueError(
      f"config.model.name={name!r}: method {method!r} needs one of {fit}"
    )
  for key in ("dropout", "attention_dropout"):
    if not 0.0 <= m[key] < 1.0:
      raise ValueError(f"config.method.{key}={m[key]!r} must be in [0, 1)")
  if m.text_pool not in text.POOLS:
    raise ValueError(
      f"config.method.text_pool={m.text_pool!r} is not one of {text.POOLS}"
    )
  if causal and m.text_pool == "cls":
    raise ValueError(
      "config.method.text_pool='cls': a causal model's first token sees "
      "only itself; use 'mean' or 'last'"
    )
  if m.max_positions < 0:
    raise ValueError(
      f"config.method.max_positions={m.max_positions!r} must be >= 0 (0: "
      "the model's own)"
    )
  positions = m.max_positions or models.TEXT_MODELS[name](2).max_len
  if config.data.seq_len > positions:
    raise ValueError(
      f"config.data.seq_len={config.data.seq_len} exceeds the "
      f"{positions} positions of config.model.name={name!r} "
      f"(config.method.max_positions={m.max_positions}, 0: the model's)"
    )


def vocab_size(config) -> int:
  """Rows of a text model's embedding: the run's tokenizer's vocabulary
  (`config.data.tokenizer_path`'s, or the one trained on the train split,
  which may stop short of `config.data.vocab_size`)."""
  from jaxssl.data.kinds import tokens  # pylint: disable=g-import-not-at-top

  tok, _ = tokens.get_tokenizer(config)
  return int(tok.get_vocab_size(with_added_tokens=True))


def specials(config):
  """The run's tokenizer's special ids (`jaxssl.data.tokenizer.Specials`)."""
  from jaxssl.data.kinds import tokens  # pylint: disable=g-import-not-at-top

  return tokens.get_tokenizer(config)[1]


def text_model(config, **overrides) -> models.TextTransformer:
  """The text model `config.model.name` over the run's vocabulary.

  Reads `config.method.{dropout, attention_dropout, text_pool, pre_ln,
  max_positions}` (`text_model_config`), `config.model.remat` and the
  tokenizer's vocabulary size (`vocab_size`).

  Raises:
    ValueError: naming `config.model.name` if it is not a text model.
  """
  name, m = config.model.name, config.method
  if name not in models.TEXT_MODELS:
    raise ValueError(
      f"config.model.name={name!r} is not one of {sorted(models.TEXT_MODELS)}"
    )
  kwargs = {
    "dropout": float(m.dropout),
    "attention_dropout": float(m.attention_dropout),
    "pool": m.text_pool,
    "pre_ln": bool(m.pre_ln),
    "remat": bool(config.model.remat),
  }
  if m.max_positions:
    kwargs["max_len"] = int(m.max_positions)
  return models.text_model(name, vocab_size(config), **{**kwargs, **overrides})


def token_std(states: jax.Array, is_pad: jax.Array) -> jax.Array:
  """`embedding_metrics`' z_std over the non-padding token states.

  The collapse diagnostic of a language model: the per-dimension std over
  every real token of the batch of the L2-normalised [n, l, d] final
  states, averaged over dimensions (~1/sqrt(d) when spread, 0 when every
  token gets the same state). A window's pooled embedding is a poor one
  early in training: the states' common component dominates the mean.
  """
  states = jax.lax.stop_gradient(states).astype(jnp.float32)
  u = states / jnp.maximum(
    jnp.linalg.norm(states, axis=-1, keepdims=True), 1e-12
  )
  w = (~is_pad).astype(jnp.float32)[..., None]
  count = jnp.maximum(jnp.sum(w), 1.0)
  mean = jnp.sum(u * w, axis=(0, 1)) / count
  var = jnp.sum(jnp.square(u - mean) * w, axis=(0, 1)) / count
  return jnp.mean(jnp.sqrt(var))


def init_text_model(model, rng, batch, *, logits: bool):
  """Params of a text model from (the first two rows of) a tokens batch."""
  tokens, is_pad = batch["tokens"][:2], batch["is_pad"][:2]
  return model.init(rng, tokens, is_pad, train=False, logits=logits)["params"]


# Checks of `config.method` values, raising a ValueError naming the key.
