"""Unsupervised SimCSE: each window twice through dropout, in-batch InfoNCE.

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

Evaluation embeddings (`Method.features`) are the encoder's [CLS] state
without the MLP: the official unsupervised recipe trains with
`--pooler_type cls --mlp_only_train` and evaluates with
`cls_before_pooler`. `method.text_pool="mean"` pools the non-padding
tokens instead (then the MLP runs over the mean in training, and the
features are the mean; the official `avg` pooler has no MLP).

Supervised SimCSE (NLI triples: anchor, entailment as positive,
contradiction as hard negative) needs paired data that the `tokens` kind
does not give; it is not implemented.

Metrics: `loss`; `accuracy`, how often a pass's most similar other pass in
the batch is its own twin (`losses.contrastive_accuracy`); `z_std` and
`pos_cos` of the pooled projections.

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
  return m


def check_config(config) -> None:
  """ValueError naming the key: a BERT encoder, temperature > 0, dropout
  > 0 (the only augmentation), seq_len within the positions, loss_block an
  int >= 0."""
  text_common.check_text_model(config, method="simcse", causal=False)
  common.check_positive(config, "temperature")
  contrastive_block.check(config)
  if not config.method.dropout > 0:
    raise ValueError(
      f"config.method.dropout={config.method.dropout!r} must be > 0: "
      "dropout is SimCSE's only augmentation (two equal passes otherwise)"
    )


def _normalize(z):
  z = z.astype(jnp.float32)
  return z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), 1e-12)


def build(config) -> base.Method:
  """simcse from `config.model.name` (a bert_* model) and `config.method`
  (temperature and the text model keys)."""
  model = text_common.text_model(config)
  pooler = text.Pooler()
  temperature = float(config.method.temperature)
  block = int(config.method.loss_block)

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

  def loss(params, extra, batch, rng, step):
    del step
    k1, k2 = jax.random.split(rng)
    z1 = _normalize(project(params, batch, k1))
    z2 = _normalize(project(params, batch, k2))
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
    return out["feats"]

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
