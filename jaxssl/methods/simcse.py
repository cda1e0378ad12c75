"""SimCSE: unsupervised (each window twice through dropout) or supervised
(sentence pairs with hard negatives), in-batch InfoNCE over the global batch.

Unsupervised (`method.supervised=False`, the default):

Every window of the batch goes through the BERT encoder twice in training
mode, with independent dropout keys (dropout is the only augmentation);
the two [CLS] states go through the pooler MLP (dense + tanh,
`models.text.Pooler`, the official `MLPLayer`), and the loss is
`jaxssl.losses.info_nce` of the L2-normalised outputs, cosine similarity
over `method.temperature` (0.05), window i's first pass against the second
passes of the whole batch: the official `cl_forward` (one direction,
`CrossEntropyLoss` over `cos_sim(z1, z2) / temp`). The loss sees the
global batch: under `jit` with a batch sharded over the mesh XLA gathers
the negatives across devices (as SimCLR's `nt_xent`), so a run on one
device and on eight give the same loss. `method.loss_block` = k > 0
computes the same loss and accuracy inside `jax.shard_map` over the mesh's
"data" axis, k rows at a time per device (`losses.info_nce_blockwise`,
`jaxssl.methods.contrastive_block`), never the [N / D, N] logits.

Supervised (`method.supervised=True`, on a pair source of the `tokens`
kind: `config.data.name` "text_pairs" or "wordnet_pairs",
`jaxssl.data.text_pairs`): the batch's anchors h, positives h⁺ (NLI
entailments) and, with `config.data.hard_negatives`, hard negatives h⁻
(contradictions) go through the encoder once each, in one pass with dropout
(training mode, no dropout twin: the pair is the augmentation), [CLS]
through the same pooler MLP, and the loss is `losses.info_nce(h, h⁺,
hard_negatives=h⁻)` of the normalised outputs over τ: every anchor against
all N positives and N hard negatives of the global batch,

  ℓ_i = -log e^{sim(h_i, h_i⁺)/τ} / Σ_j (e^{sim(h_i, h_j⁺)/τ} +
        e^{sim(h_i, h_j⁻)/τ}),

the official `cl_forward` with `num_sent=3` and `hard_negative_weight=0`.
The mode is a config key, not guessed from the batch, so that a forgotten
flag is an error: `supervised=True` needs a pair source and a pair source
needs `supervised=True` (one line naming both keys).

Evaluation embeddings (`Method.features`) are the encoder's [CLS] state
without the MLP with `method.mlp_only_train` (the default): the official
unsupervised recipe trains with `--pooler_type cls --mlp_only_train` and
evaluates with `cls_before_pooler`; with `mlp_only_train=False` they are
the MLP's output, as the official supervised recipe (`--pooler_type cls`,
evaluated with `cls`). `method.text_pool="mean"` pools the non-padding
tokens instead (then the MLP runs over the mean in training, and the
features are the mean; the official `avg` pooler has no MLP).

Metrics: `loss`; `accuracy`, unsupervised: how often a pass's most similar
other pass in the batch is its own twin (`losses.contrastive_accuracy`),
supervised: how often an anchor's most similar key among the batch's
positives and hard negatives is its own positive; `z_std` (anchors) and
`pos_cos` of the pooled projections, and supervised with hard negatives
`neg_cos`, the mean cosine of an anchor and its own hard negative.

References:
  Gao, Yao and Chen, SimCSE: Simple Contrastive Learning of Sentence
  Embeddings, EMNLP 2021, arXiv:2104.08821 (princeton-nlp/SimCSE
  `simcse/models.py`: `cl_forward`, `Pooler`, `MLPLayer`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import losses
from jaxssl.methods import base, common, contrastive_block, text_common
from jaxssl.models import text


def default_config() -> ml_collections.ConfigDict:
  """simcse's `config.method` keys (but `name`) and their defaults."""
  m = text_common.text_model_config(pre_ln=False, text_pool="cls")
  m.temperature = 0.05  # τ of the cosine similarities, > 0
  # > 0: info_nce in [loss_block, N] tiles per device under shard_map (same
  # value and gradient, jaxssl.methods.contrastive_block); 0: dense.
  m.loss_block = 0
  # Supervised SimCSE on (anchor, positive[, hard negative]) pairs: needs a
  # pair source (config.data.name "text_pairs" or "wordnet_pairs").
  m.supervised = False
  # Features without the pooler MLP (the official unsupervised recipe's
  # --mlp_only_train); False: the MLP's output (the supervised recipe).
  m.mlp_only_train = True
  return m


def check_config(config) -> None:
  """ValueError naming the key: a BERT encoder, temperature > 0, dropout
  > 0 (unsupervised: the only augmentation), seq_len within the positions,
  supervised exactly on a pair source, loss_block an int >= 0 (dense when
  supervised)."""
  # pylint: disable-next=g-import-not-at-top
  from jaxssl.data import text_pairs

  text_common.check_text_model(config, method="simcse", causal=False)
  common.check_positive(config, "temperature")
  contrastive_block.check(config)
  m, d = config.method, config.data
  if m.supervised and m.loss_block:
    raise ValueError(
      f"config.method.loss_block={m.loss_block!r}: the blockwise loss is "
      "unsupervised SimCSE's; supervised SimCSE (hard negatives) is dense: "
      "set it to 0"
    )
  paired = d.kind == "tokens" and text_pairs.is_pair_source(d)
  if m.supervised and not paired:
    raise ValueError(
      f"config.method.supervised=True needs sentence pairs: "
      f"config.data.name={d.name!r} is not one of {text_pairs.SOURCES}"
    )
  if paired and not m.supervised:
    raise ValueError(
      f"config.data.name={d.name!r} gives sentence pairs: set "
      "config.method.supervised=True (unsupervised SimCSE reads single "
      "sentences: a text_folder of them, or 'wordnet')"
    )
  if not m.supervised and not m.dropout > 0:
    raise ValueError(
      f"config.method.dropout={m.dropout!r} must be > 0: dropout is "
      "unsupervised SimCSE's only augmentation (two equal passes otherwise)"
    )


def build(config) -> base.Method:
  """simcse from `config.model.name` (a bert_* model) and `config.method`
  (temperature and the text model keys)."""
  model = text_common.text_model(config)
  pooler = text.Pooler()
  temperature = float(config.method.temperature)
  block = int(config.method.loss_block)
  supervised = bool(config.method.supervised)
  mlp_only_train = bool(config.method.mlp_only_train)

  def init(rng, batch):
    k_model, k_pool = jax.random.split(rng)
    params = text_common.init_text_model(model, k_model, batch, logits=False)
    feats = jnp.zeros((1, model.width), jnp.float32)
    return {
      "model": params,
      "pooler": pooler.init(k_pool, feats)["params"],
    }, {}

  def project(params, batch, rng):
    out = model.apply(
      {"params": params["model"]},
      batch["tokens"],
      batch["is_pad"],
      train=True,
      rngs={"dropout": rng},
    )
    return pooler.apply({"params": params["pooler"]}, out["feats"])

  def supervised_loss(params, extra, batch, rng):
    prefixes = ["", "positive_"]
    if "negative_tokens" in batch:
      prefixes.append("negative_")
    both = {
      key: jnp.concatenate([batch[p + key] for p in prefixes])
      for key in ("tokens", "is_pad")
    }
    z = project(params, both, rng).astype(jnp.float32)  # [(2 or 3) n, d]
    z = losses.l2_normalize(z)
    za, zp, *zn = jnp.split(z, len(prefixes))
    hard = zn[0] if zn else None
    value = losses.info_nce(
      za, zp, hard_negatives=hard, temperature=temperature
    )
    keys = jax.lax.stop_gradient(jnp.concatenate([zp, *zn]))
    hits = jnp.argmax(jax.lax.stop_gradient(za) @ keys.T, axis=1)
    metrics = {
      "loss": value,
      "accuracy": jnp.mean(hits == jnp.arange(za.shape[0])),
      **common.embedding_metrics(za, zp),
    }
    if hard is not None:
      metrics["neg_cos"] = jnp.mean(jnp.sum(za * hard, axis=-1))
    return value, (extra, metrics)

  def loss(params, extra, batch, rng, step):
    del step
    if supervised:
      return supervised_loss(params, extra, batch, rng)
    k1, k2 = jax.random.split(rng)
    z1 = losses.l2_normalize(project(params, batch, k1).astype(jnp.float32))
    z2 = losses.l2_normalize(project(params, batch, k2).astype(jnp.float32))
    if block:
      value, accuracy = contrastive_block.info_nce(
        z1, z2, temperature=temperature, block_size=block
      )
    else:
      value = losses.info_nce(z1, z2, temperature=temperature)
      accuracy = losses.contrastive_accuracy(z1, z2)
    metrics = {
      "loss": value,
      "accuracy": accuracy,
      **common.embedding_metrics(z1, z2),
    }
    return value, (extra, metrics)

  def features(params, extra, batch):
    del extra
    out = model.apply(
      {"params": params["model"]}, batch["tokens"], batch["is_pad"], train=False
    )
    if mlp_only_train:
      return out["feats"]
    return pooler.apply({"params": params["pooler"]}, out["feats"])

  return base.Method(
    batch_coupled="InfoNCE takes its negatives from the whole batch",
    name="simcse",
    init=init,
    loss=loss,
    features=features,
    protocols=("sentence",),
  )


METHOD = base.MethodDef(
  name="simcse",
  build=build,
  config=default_config,
  check=check_config,
  data_kinds=("tokens",),
)
