"""Text Transformers: the BERT encoder and the GPT-2 decoder-only LM.

One module, `TextTransformer`, serves both, as the two papers differ only
in a few switches:
  BERT   post-LN blocks (x = LN(x + sublayer(x))), an embedding LayerNorm,
         bidirectional attention over the non-padding tokens, exact-erf
         GELU, LayerNorm eps 1e-12, N(0, 0.02) init, token-type
         embeddings; the MLM head is dense + GELU + LayerNorm + the output
         projection tied to the token embeddings, plus an output bias.
  GPT-2  pre-LN blocks (x = x + sublayer(LN(x))) and a final LayerNorm,
         causal attention, tanh GELU, eps 1e-5, N(0, 0.02) init with the
         residual projections scaled by 1 / sqrt(2 * depth), no token
         types; the LM head is the tied projection alone (no bias).
`pre_ln` switches the block layout either way (with it: no embedding
LayerNorm and a final one; without: the reverse). Padding is a key mask
from `is_pad` (combined with the causal mask); a padding query attends to
itself too, so no attention row is empty, and non-padding outputs never
depend on padding tokens.

The attention is the ViT's (`jaxssl.models.vit.MultiHeadSelfAttention`),
with its mask and dropout; the blocks are the text models' own (post-LN,
hidden dropout, GPT-2's init).

Sentence embeddings ("feats", `pool`): "cls", the first token's final
state (BERT's [CLS]; the official SimCSE evaluates this state,
`cls_before_pooler`); "mean", the mean over the non-padding tokens;
"last", the last non-padding token (a causal model's summary of the whole
window, as GPT-style sentence encoders use).

References:
  Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers for
  Language Understanding, arXiv:1810.04805 (google-research/bert
  `modeling.py`); Radford et al., Language Models are Unsupervised
  Multitask Learners, 2019 (openai/gpt-2 `src/model.py`; the 1/sqrt(2
  depth) scaling as in HF `GPT2PreTrainedModel._init_weights`); Turc et
  al., Well-Read Students Learn Better, arXiv:1908.08962 (the small BERT
  sizes); Xiong et al., On Layer Normalization in the Transformer
  Architecture, arXiv:2002.04745 (pre-LN).
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.models import vit

POOLS = ("cls", "mean", "last")
_normal = nn.initializers.normal(0.02)


def attention_mask(is_pad: jax.Array, *, causal: bool) -> jax.Array:
  """bool [n, 1, l, l]: True where query i may attend to key j.

  Keys must be non-padding (and j <= i when `causal`); every query may also
  attend to itself, so a padding-only row is never empty.
  """
  l = is_pad.shape[1]
  ok = ~is_pad[:, None, None, :]
  if causal:
    ok = ok & jnp.tril(jnp.ones((l, l), bool))[None, None]
  return ok | jnp.eye(l, dtype=bool)[None, None]


class TextBlock(nn.Module):
  """A Transformer block, post-LN (BERT) or pre-LN (GPT-2).

  Attributes:
    num_heads: attention heads.
    mlp_dim: MLP hidden width.
    pre_ln: LayerNorm before each sublayer (else after each residual add).
    dropout: on each sublayer's output before the residual add.
    attention_dropout: on the attention probabilities.
    ln_epsilon: LayerNorm epsilon.
    gelu_approximate: tanh GELU (GPT-2) instead of the exact erf (BERT).
    proj_std: std of the two residual projections' init.
  """

  num_heads: int
  mlp_dim: int
  pre_ln: bool = False
  dropout: float = 0.1
  attention_dropout: float = 0.1
  ln_epsilon: float = 1e-12
  gelu_approximate: bool = False
  proj_std: float = 0.02

  @nn.compact
  def __call__(self, x, can_attend, train: bool):
    d = x.shape[-1]
    ln = functools.partial(nn.LayerNorm, epsilon=self.ln_epsilon)
    drop = functools.partial(nn.Dropout(self.dropout), deterministic=not train)
    attn = vit.MultiHeadSelfAttention(
      self.num_heads,
      dropout_rate=self.attention_dropout,
      kernel_init=_normal,
      proj_kernel_init=nn.initializers.normal(self.proj_std),
      name="attn",
    )

    def mlp(y):
      y = nn.Dense(self.mlp_dim, kernel_init=_normal, name="mlp_fc1")(y)
      y = nn.gelu(y, approximate=self.gelu_approximate)
      init = nn.initializers.normal(self.proj_std)
      return nn.Dense(d, kernel_init=init, name="mlp_fc2")(y)

    if self.pre_ln:
      y = ln(name="norm1")(x)
      x = x + drop(attn(y, can_attend=can_attend, deterministic=not train))
      return x + drop(mlp(ln(name="norm2")(x)))
    y = attn(x, can_attend=can_attend, deterministic=not train)
    x = ln(name="norm1")(x + drop(y))
    return ln(name="norm2")(x + drop(mlp(x)))


class TextTransformer(nn.Module):
  """BERT encoder or GPT-2 decoder: tokens -> states, sentence embedding and
  (optionally) token logits through the tied embeddings.

  Attributes:
    vocab_size: V, rows of the token embedding (= the output projection).
    width: d.
    depth: blocks.
    num_heads: attention heads.
    max_len: learned positions; windows longer than this raise ValueError.
    mlp_ratio: MLP hidden width over d.
    causal: causal attention (GPT-2); else bidirectional (BERT).
    pre_ln: pre-LN blocks + final LayerNorm; else post-LN blocks +
      embedding LayerNorm.
    dropout: hidden dropout (embeddings, sublayer outputs).
    attention_dropout: dropout on the attention probabilities.
    type_vocab_size: token-type embeddings (BERT's 2 segments; every token
      is type 0 here, so it is a learned bias; kept for BERT's parameter
      count and checkpoint layout); 0: none.
    mlm_head: the logits go through BERT's transform (dense + GELU +
      LayerNorm) before the tied projection, and get an output bias; else
      the tied projection alone (GPT-2).
    ln_epsilon: LayerNorm epsilon (BERT 1e-12, GPT-2 1e-5).
    gelu_approximate: tanh GELU (GPT-2); else exact erf (BERT).
    pool: "feats": "cls", "mean" or "last" (see the module docstring).
    remat: rematerialise each block in the backward pass (`nn.remat`): its
      activations are recomputed instead of stored; the same params and
      values (dropout masks included).
    kind: "text", the model kind; not a field.
  """

  kind: ClassVar[str] = "text"

  vocab_size: int
  width: int
  depth: int
  num_heads: int
  max_len: int = 512
  mlp_ratio: int = 4
  causal: bool = False
  pre_ln: bool = False
  dropout: float = 0.1
  attention_dropout: float = 0.1
  type_vocab_size: int = 2
  mlm_head: bool = True
  ln_epsilon: float = 1e-12
  gelu_approximate: bool = False
  pool: str = "cls"
  remat: bool = False

  @property
  def num_features(self) -> int:
    """Width d of the features."""
    return self.width

  @nn.compact
  def __call__(
    self,
    tokens: jax.Array,
    is_pad: jax.Array | None = None,
    *,
    train: bool,
    logits: bool = False,
  ) -> dict[str, jax.Array]:
    """Encodes token windows.

    Args:
      tokens: int [n, l] ids, l <= max_len.
      is_pad: bool [n, l], True at padding; None: no padding.
      train: dropout on (needs a "dropout" rng when a rate is > 0).
      logits: also compute the [n, l, V] token logits (the head's params
        exist only in a model initialised with `logits=True`).

    Returns:
      {"tokens": [n, l, d] final states, "feats": [n, d] the `pool`ed
      sentence embedding, and with `logits` "logits": [n, l, V] float32}.
    """
    if self.pool not in POOLS:
      raise ValueError(f"text model pool={self.pool!r} is not one of {POOLS}")
    n, l = tokens.shape
    if l > self.max_len:
      raise ValueError(
        f"windows of {l} tokens exceed the model's max_len={self.max_len} "
        "positions"
      )
    if is_pad is None:
      is_pad = jnp.zeros((n, l), bool)
    embed = nn.Embed(
      self.vocab_size, self.width, embedding_init=_normal, name="embed"
    )
    pos = self.param("pos_embed", _normal, (self.max_len, self.width))
    x = embed(tokens) + pos[None, :l]
    if self.type_vocab_size:
      types = self.param(
        "type_embed", _normal, (self.type_vocab_size, self.width)
      )
      x = x + types[0]
    ln = functools.partial(nn.LayerNorm, epsilon=self.ln_epsilon)
    if not self.pre_ln:
      x = ln(name="embed_norm")(x)
    x = nn.Dropout(self.dropout)(x, deterministic=not train)
    can_attend = attention_mask(is_pad, causal=self.causal)
    # GPT-2: residual projections start at 0.02 / sqrt(2 * depth) (the
    # residual stream sums 2 * depth of them); BERT: 0.02 everywhere.
    proj_std = 0.02 / math.sqrt(2 * self.depth) if self.causal else 0.02
    # `train` (argument 3, after self, x and can_attend) is static.
    block = TextBlock
    if self.remat:
      block = nn.remat(TextBlock, static_argnums=(3,))
    for i in range(self.depth):
      x = block(
        self.num_heads,
        self.mlp_ratio * self.width,
        pre_ln=self.pre_ln,
        dropout=self.dropout,
        attention_dropout=self.attention_dropout,
        ln_epsilon=self.ln_epsilon,
        gelu_approximate=self.gelu_approximate,
        proj_std=proj_std,
        name=f"block{i}",
      )(x, can_attend, train)
    if self.pre_ln:
      x = ln(name="norm")(x)
    out = {"tokens": x, "feats": pool(x, is_pad, self.pool)}
    if logits:
      y = x
      if self.mlm_head:
        y = nn.Dense(self.width, kernel_init=_normal, name="mlm_dense")(y)
        y = ln(name="mlm_norm")(nn.gelu(y, approximate=self.gelu_approximate))
      # Tied: the output projection is the token embedding matrix itself.
      y = embed.attend(y.astype(jnp.float32))
      if self.mlm_head:
        bias = self.param("mlm_bias", nn.initializers.zeros, (self.vocab_size,))
        y = y + bias
      out["logits"] = y.astype(jnp.float32)
    return out


def pool(x: jax.Array, is_pad: jax.Array, how: str) -> jax.Array:
  """[n, l, d] states -> [n, d] sentence embeddings (`POOLS`).

  "mean" and "last" ignore padding; a window of padding only (an
  evaluation batch's filler) gives zeros / its first state.
  """
  if how == "cls":
    return x[:, 0]
  keep = ~is_pad
  if how == "mean":
    w = keep.astype(x.dtype)[..., None]
    return jnp.sum(x * w, 1) / jnp.maximum(jnp.sum(w, 1), 1.0)
  if how == "last":
    last = jnp.maximum(jnp.sum(keep, axis=1) - 1, 0)
    return jnp.take_along_axis(x, last[:, None, None], axis=1)[:, 0]
  raise ValueError(f"text model pool={how!r} is not one of {POOLS}")


class Pooler(nn.Module):
  """BERT's pooler: dense + tanh over a sentence embedding.

  SimCSE's `MLPLayer` over [CLS] in training (`mlp_only_train`).
  """

  @nn.compact
  def __call__(self, feats: jax.Array) -> jax.Array:
    d = feats.shape[-1]
    return jnp.tanh(nn.Dense(d, kernel_init=_normal, name="dense")(feats))


def _bert(width, depth, heads):
  def make(vocab_size: int, **kwargs) -> TextTransformer:
    return TextTransformer(vocab_size, width, depth, heads, **kwargs)

  make.__doc__ = f"BERT encoder: d {width}, {depth} blocks, {heads} heads."
  return make


def _gpt2(width, depth, heads):
  def make(vocab_size: int, **kwargs) -> TextTransformer:
    defaults = {
      "max_len": 1024,
      "causal": True,
      "pre_ln": True,
      "type_vocab_size": 0,
      "mlm_head": False,
      "ln_epsilon": 1e-5,
      "gelu_approximate": True,
      "pool": "mean",
    }
    return TextTransformer(
      vocab_size, width, depth, heads, **{**defaults, **kwargs}
    )

  make.__doc__ = f"GPT-2 decoder: d {width}, {depth} blocks, {heads} heads."
  return make


# name -> factory(vocab_size, **TextTransformer attributes). BERT sizes from
# Turc et al. (tiny L2/H128, mini L4/H256, small L4/H512, medium L8/H512)
# and the paper (base: 110M at vocab 30522, 512 positions); GPT-2 tiny and
# mini are the same widths as a decoder, small is GPT-2's 124M (vocab
# 50257, 1024 positions), medium its 355M.
TEXT_MODELS = {
  "bert_tiny": _bert(128, 2, 2),
  "bert_mini": _bert(256, 4, 4),
  "bert_small": _bert(512, 4, 8),
  "bert_medium": _bert(512, 8, 8),
  "bert_base": _bert(768, 12, 12),
  # CLIP's text tower size (Radford et al. 2021: 12 layers, d 512, 8 heads,
  # 63M at vocab 49408 and 77 positions), bidirectional here.
  "bert_l12_h512": _bert(512, 12, 8),
  "gpt2_tiny": _gpt2(128, 2, 2),
  "gpt2_mini": _gpt2(256, 4, 4),
  "gpt2_small": _gpt2(768, 12, 12),
  "gpt2_medium": _gpt2(1024, 24, 16),
}
