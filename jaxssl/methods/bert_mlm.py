"""BERT's masked-language model: corrupt 15% of the tokens, predict them.

Each step corrupts the batch with `jaxssl.masking.mask_tokens` (every
non-special, non-padding position selected with probability
`method.mask_rate`; of those 80% become [MASK], 10% a uniformly random
token of the vocabulary, 10% stay) under the step key, encodes the
corrupted windows with a BERT encoder (`jaxssl.models.text`, dropout on)
and scores `jaxssl.losses.masked_lm` on the selected positions through
the MLM head (dense + GELU + LayerNorm + the output projection tied to the
token embeddings, plus a bias). [CLS], [SEP], [PAD] and [MASK] are never
selected ([UNK] neither: it is not a word to predict). There is no
next-sentence prediction (RoBERTa showed it unneeded), so no pooler.

The data kind is `tokens` with the WordPiece tokenizer (`[CLS] piece
[SEP] [PAD]...` windows); `data.tokenizer="bpe"` is rejected.

Metrics: `loss`; `mlm_accuracy`, top-1 on the selected positions;
`z_std`, the collapse diagnostic over the non-padding token states
(`text_common.token_std`).

`Method.features`: the encoder's `method.text_pool` embedding ([CLS] by
default) in inference mode; `Method.logits`: the MLM head's logits at
every position of the (already corrupted) input, in inference mode.

References:
  Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers for
  Language Understanding, arXiv:1810.04805 (google-research/bert
  `create_pretraining_data.py`, `run_pretraining.py`); Liu et al.,
  RoBERTa, arXiv:1907.11692 (no NSP, dynamic masking as here).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import losses, masking
from jaxssl.methods import base, text_common


def default_config() -> ml_collections.ConfigDict:
  """bert_mlm's `config.method` keys (but `name`) and their defaults."""
  m = text_common.text_model_config(pre_ln=False, text_pool="cls")
  m.mask_rate = 0.15  # selection probability per token, in (0, 1]
  return m


def check_config(config) -> None:
  """ValueError naming the key: a BERT model, the WordPiece tokenizer,
  mask_rate in (0, 1], seq_len within the positions."""
  text_common.check_text_model(config, method="bert_mlm", causal=False)
  if config.data.tokenizer != "wordpiece":
    raise ValueError(
      f"config.data.tokenizer={config.data.tokenizer!r}: bert_mlm needs "
      "'wordpiece' ([CLS], [SEP], [MASK])"
    )
  rate = config.method.mask_rate
  if not 0.0 < rate <= 1.0:
    raise ValueError(f"config.method.mask_rate={rate!r} must be in (0, 1]")


def corrupt(rng, tokens, is_pad, *, specials, vocab_size: int, rate: float):
  """BERT's corruption of a tokens batch, as the loss draws it.

  Args:
    rng: the step's masking key.
    tokens: int32 [n, l] windows.
    is_pad: bool [n, l], True at padding (never selected).
    specials: the tokenizer's `Specials` (none of them is ever selected).
    vocab_size: random replacements are drawn from [0, vocab_size).
    rate: selection probability.

  Returns:
    (inputs, targets, is_masked) of `masking.mask_tokens`, with padding
    never selected.
  """
  inputs, targets, is_masked = masking.mask_tokens(
    rng,
    tokens,
    mask_id=specials.mask,
    vocab_size=vocab_size,
    rate=rate,
    special_ids=specials.ids(),
  )
  return inputs, targets, is_masked & ~is_pad


def build(config) -> base.Method:
  """bert_mlm from `config.model.name` (a bert_* model) and
  `config.method` (mask_rate and the text model keys)."""
  model = text_common.text_model(config)
  specials = text_common.specials(config)
  vocab = model.vocab_size
  rate = float(config.method.mask_rate)

  def init(rng, batch):
    return {
      "model": text_common.init_text_model(model, rng, batch, logits=True)
    }, {}

  def loss(params, extra, batch, rng, step):
    del step
    k_mask, k_drop = jax.random.split(rng)
    inputs, targets, is_masked = corrupt(
      k_mask,
      batch["tokens"],
      batch["is_pad"],
      specials=specials,
      vocab_size=vocab,
      rate=rate,
    )
    out = model.apply(
      {"params": params["model"]},
      inputs,
      batch["is_pad"],
      train=True,
      logits=True,
      rngs={"dropout": k_drop},
    )
    value = losses.masked_lm(out["logits"], targets, is_masked)
    hit = (jnp.argmax(out["logits"], -1) == targets) & is_masked
    metrics = {
      "loss": value,
      "mlm_accuracy": jnp.sum(hit) / jnp.maximum(jnp.sum(is_masked), 1),
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
    out = model.apply(
      {"params": params["model"]},
      batch["tokens"],
      batch["is_pad"],
      train=False,
      logits=True,
    )
    return out["logits"]

  return base.Method(
    name="bert_mlm",
    init=init,
    loss=loss,
    features=features,
    logits=logits,
    protocols=("mlm", "sentence"),
    # A micro-batch's mean would weigh its masked tokens by 1/k, not by
    # their count: not the full batch's objective.
    batch_coupled=(
      "the loss is a mean over the randomly masked tokens of the whole batch"
    ),
  )


METHOD = base.MethodDef(
  name="bert_mlm",
  build=build,
  config=default_config,
  check=check_config,
  data_kinds=("tokens",),
)
