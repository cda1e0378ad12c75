"""Text Transformers (jaxssl.models.text): masks, tied weights, pooling,
init, sizes against the published parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import models
from jaxssl.models import text

V = 50


def _init(model, tokens, is_pad=None, logits=True):
  init = jax.jit(model.init, static_argnames=("train", "logits"))
  return init(jax.random.key(0), tokens, is_pad, train=False, logits=logits)[
    "params"
  ]


def _tokens(n=2, l=8, seed=0):
  return jax.random.randint(jax.random.key(seed), (n, l), 0, V, jnp.int32)


@pytest.mark.parametrize(
  "name,logits,published",
  [
    # HF BertModel (bert-base-uncased) 109,482,240 without its pooler
    # (768 * 768 + 768): no next-sentence prediction here.
    ("bert_base", False, 109_482_240 - 590_592),
    # HF BertForMaskedLM (the tied decoder adds only its bias).
    ("bert_base", True, 109_514_298),
    # HF GPT2LMHeadModel "gpt2": 124,439,808 (lm_head tied to wte).
    ("gpt2_small", True, 124_439_808),
  ],
)
def test_published_parameter_counts(name, logits, published):
  vocab = 30522 if name.startswith("bert") else 50257
  model = models.text_model(name, vocab)
  tokens = jnp.zeros((1, 8), jnp.int32)
  shapes = jax.eval_shape(
    lambda: model.init(jax.random.key(0), tokens, train=False, logits=logits)
  )
  assert models.num_params(shapes["params"]) == published
  assert model.max_len == (512 if name.startswith("bert") else 1024)


def test_clip_text_tower_size_is_clips():
  # HF CLIPTextModel (openai/clip-vit-base-patch32) has 63,165,952 params:
  # the same blocks, pre-LN, 77 positions, vocab 49408; a BERT adds only
  # its 2 x 512 token-type embeddings.
  model = models.text_model("bert_l12_h512", 49408, pre_ln=True, max_len=77)
  tokens = jnp.zeros((1, 8), jnp.int32)
  shapes = jax.eval_shape(
    lambda: model.init(jax.random.key(0), tokens, train=False, logits=False)
  )
  assert models.num_params(shapes["params"]) == 63_165_952 + 2 * 512
  assert (model.width, model.depth, model.num_heads) == (512, 12, 8)


def test_every_registered_size_builds():
  for name, factory in models.TEXT_MODELS.items():
    model = factory(V)
    assert model.causal == name.startswith("gpt2"), name
    assert model.pre_ln == name.startswith("gpt2"), name
    assert model.width % model.num_heads == 0, name
  with pytest.raises(ValueError, match="'bert_huge' is not one of"):
    models.text_model("bert_huge", V)


@pytest.mark.parametrize("name", ["gpt2_tiny", "bert_tiny"])
def test_future_tokens_change_past_logits_only_without_causal_mask(name):
  model = models.text_model(name, V, dropout=0.0, attention_dropout=0.0)
  tokens = _tokens(1, 10)
  params = _init(model, tokens)
  changed = tokens.at[0, 6].set((tokens[0, 6] + 1) % V)
  a = model.apply({"params": params}, tokens, train=False, logits=True)
  b = model.apply({"params": params}, changed, train=False, logits=True)
  diff = np.abs(np.asarray(a["logits"] - b["logits"])).max(axis=-1)[0]
  assert (diff[6:] > 1e-4).all()  # the changed token and after
  if model.causal:
    np.testing.assert_array_equal(diff[:6], 0.0)
  else:  # bidirectional: every position sees it
    assert (diff[:6] > 1e-4).all()


@pytest.mark.parametrize("name", ["bert_tiny", "gpt2_tiny"])
@pytest.mark.parametrize("pool", text.POOLS)
def test_padding_never_changes_non_padding_outputs(name, pool):
  """A padded window gives, at its real tokens, the states of the window
  cut to its real tokens; whatever ids the padding holds."""
  if pool == "cls" and name.startswith("gpt2"):
    pool = "last"
  model = models.text_model(
    name, V, dropout=0.0, attention_dropout=0.0, pool=pool
  )
  tokens = _tokens(2, 10)
  lengths = np.array([6, 10])
  is_pad = jnp.asarray(np.arange(10)[None] >= lengths[:, None])
  params = _init(model, tokens, is_pad)
  out = model.apply({"params": params}, tokens, is_pad, train=False)
  noise = jnp.where(is_pad, (tokens * 7 + 3) % V, tokens)
  other = model.apply({"params": params}, noise, is_pad, train=False)
  np.testing.assert_allclose(other["feats"], out["feats"], atol=1e-5)
  cut = model.apply({"params": params}, tokens[:1, :6], train=False)
  np.testing.assert_allclose(
    out["tokens"][0, :6], cut["tokens"][0], rtol=1e-5, atol=1e-5
  )
  np.testing.assert_allclose(out["feats"][0], cut["feats"][0], atol=1e-5)


def test_pooling_against_numpy():
  x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype(np.float32)
  is_pad = np.array([[0, 0, 1, 1, 1], [0, 0, 0, 0, 0], [0, 0, 0, 1, 1]], bool)
  mean = [x[i][~is_pad[i]].mean(0) for i in range(3)]
  last = [x[i][(~is_pad[i]).sum() - 1] for i in range(3)]
  np.testing.assert_allclose(text.pool(x, is_pad, "mean"), mean, rtol=1e-6)
  np.testing.assert_allclose(text.pool(x, is_pad, "last"), last)
  np.testing.assert_allclose(text.pool(x, is_pad, "cls"), x[:, 0])


@pytest.mark.parametrize("name", ["bert_tiny", "gpt2_tiny"])
def test_output_projection_is_the_input_embedding(name):
  model = models.text_model(name, V, dropout=0.0, attention_dropout=0.0)
  tokens = _tokens(2, 6)
  params = _init(model, tokens)
  embed = params["embed"]["embedding"]
  # No other [V, d] or [d, V] matrix: one array serves both ends.
  big = [
    jax.tree_util.keystr(p)
    for p, x in jax.tree_util.tree_leaves_with_path(params)
    if x.ndim == 2 and V in x.shape
  ]
  assert big == ["['embed']['embedding']"]
  out = model.apply({"params": params}, tokens, train=False, logits=True)
  h = np.asarray(out["tokens"], np.float64)
  if name.startswith("bert"):  # dense + GELU + LayerNorm, then E^T + b
    p = params
    h = h @ np.asarray(p["mlm_dense"]["kernel"]) + p["mlm_dense"]["bias"]
    h = np.asarray(jax.nn.gelu(h, approximate=False))
    mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
    h = (h - mu) / np.sqrt(var + 1e-12) * p["mlm_norm"]["scale"]
    h = h + p["mlm_norm"]["bias"]
    want = h @ np.asarray(embed).T + np.asarray(p["mlm_bias"])
  else:
    want = h @ np.asarray(embed).T
  np.testing.assert_allclose(out["logits"], want, rtol=1e-4, atol=1e-4)

  # The gradient reaches the embedding row of a token that is never an
  # input, through the head alone.
  absent = 49
  inputs = jnp.where(tokens == absent, 0, tokens)

  def loss(params):
    logits = model.apply({"params": params}, inputs, train=False, logits=True)
    return -jax.nn.log_softmax(logits["logits"])[..., absent].mean()

  g = jax.jit(jax.grad(loss))(params)["embed"]["embedding"]
  assert float(jnp.abs(g[absent]).sum()) > 0


def test_gpt2_init_scales_the_residual_projections():
  depth = 4
  model = text.TextTransformer(
    V, 256, depth, 4, causal=True, pre_ln=True, mlm_head=False
  )
  params = _init(model, _tokens(1, 4))
  block = params["block2"]
  np.testing.assert_allclose(np.std(block["attn"]["qkv"]["kernel"]), 0.02, 0.03)
  np.testing.assert_allclose(np.std(block["mlp_fc1"]["kernel"]), 0.02, 0.03)
  scaled = 0.02 / np.sqrt(2 * depth)
  for key in (block["attn"]["proj"], block["mlp_fc2"]):
    np.testing.assert_allclose(np.std(key["kernel"]), scaled, 0.03)
  np.testing.assert_allclose(np.std(params["embed"]["embedding"]), 0.02, 0.1)
  np.testing.assert_array_equal(block["attn"]["qkv"]["bias"], 0.0)


def test_post_ln_and_pre_ln_layouts():
  """Post-LN (BERT): embedding LayerNorm, no final one; pre-LN (GPT-2) the
  reverse; each block holds two LayerNorms either way."""
  tokens = _tokens(1, 4)
  post = _init(models.text_model("bert_tiny", V), tokens, logits=False)
  pre = _init(models.text_model("gpt2_tiny", V), tokens, logits=False)
  assert "embed_norm" in post and "norm" not in post
  assert "norm" in pre and "embed_norm" not in pre
  assert "type_embed" in post and "type_embed" not in pre
  pre_bert = _init(
    models.text_model("bert_tiny", V, pre_ln=True), tokens, logits=False
  )
  assert set(pre_bert) == set(post) - {"embed_norm"} | {"norm"}


def test_dropout_only_in_training():
  model = models.text_model("bert_tiny", V)
  tokens = _tokens(2, 8)
  params = _init(model, tokens)

  def run(train, seed):
    return model.apply(
      {"params": params},
      tokens,
      train=train,
      rngs={"dropout": jax.random.key(seed)},
    )["feats"]

  np.testing.assert_array_equal(run(False, 1), run(False, 2))
  assert not np.allclose(run(True, 1), run(True, 2))
  # Attention dropout alone also changes the output.
  only_attn = model.clone(dropout=0.0)
  a, b = (
    only_attn.apply(
      {"params": params},
      tokens,
      train=True,
      rngs={"dropout": jax.random.key(s)},
    )["feats"]
    for s in (1, 2)
  )
  assert not np.allclose(a, b)


def test_masked_attention_against_numpy():
  """The explicit (dropout) path and dot_product_attention agree with a
  NumPy softmax attention under a mask."""
  att = models.vit.MultiHeadSelfAttention(2, dropout_rate=0.5)
  x = jax.random.normal(jax.random.key(0), (2, 5, 8))
  is_pad = jnp.asarray([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], bool)
  mask = text.attention_mask(is_pad, causal=True)
  params = att.init(jax.random.key(1), x)["params"]
  out = att.apply({"params": params}, x, can_attend=mask)
  qkv = (
    np.asarray(x, np.float64) @ params["qkv"]["kernel"] + params["qkv"]["bias"]
  )
  q, k, v = np.split(qkv.reshape(2, 5, 3, 2, 4), 3, axis=2)
  s = np.einsum("nqhc,nkhc->nhqk", q[:, :, 0], k[:, :, 0]) / 2.0
  s = np.where(np.asarray(mask), s, -np.inf)
  p = np.exp(s - s.max(-1, keepdims=True))
  p /= p.sum(-1, keepdims=True)
  y = np.einsum("nhqk,nkhc->nqhc", p, v[:, :, 0]).reshape(2, 5, 8)
  want = y @ params["proj"]["kernel"] + params["proj"]["bias"]
  np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
  # With dropout on (the explicit path) a masked key still cannot matter.
  v_changed = x.at[0, 4].set(100.0)
  a = att.apply(
    {"params": params},
    x,
    can_attend=mask,
    deterministic=False,
    rngs={"dropout": jax.random.key(3)},
  )
  b = att.apply(
    {"params": params},
    v_changed,
    can_attend=mask,
    deterministic=False,
    rngs={"dropout": jax.random.key(3)},
  )
  np.testing.assert_allclose(a[0, :4], b[0, :4], rtol=1e-5, atol=1e-6)


def test_windows_longer_than_the_positions_are_named():
  model = models.text_model("bert_tiny", V, max_len=8)
  with pytest.raises(ValueError, match="max_len=8"):
    _init(model, _tokens(1, 9))
