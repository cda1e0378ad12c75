"""CLIP and SigLIP: an image tower and a text tower trained on pairs.

Both methods share the towers and differ only in the loss:
  image tower  any jaxssl backbone (`config.model.name`, `common.backbone`);
               its features are `Method.features`, so the `representation`
               protocol (kNN, linear probe) scores it as any image method.
  text tower   the text Transformer encoder (`jaxssl.models.text`,
               `config.method.text_model`, bert_tiny by default) over the
               run's caption tokenizer, its sentence embedding pooled by
               `config.method.text_pool` ("mean" of the non-padding tokens
               by default; "cls" is BERT's first token).
  projections  one bias-free linear map from each tower to the joint width
               `config.method.embed_dim` (CLIP's `visual.proj` /
               `text_projection`), then L2 normalisation.
The image tower runs in training mode (BatchNorm batch statistics, kept in
`extra`), the text tower with `config.method.dropout` (0 by default, as
CLIP's).

Losses, over the GLOBAL batch (under `jit` with a batch sharded over the
mesh, XLA gathers the other devices' embeddings; no collective is written
here, as big_vision's trainers):
  clip    `losses.clip`: the symmetric InfoNCE of the N x N similarities
          times a learned scale exp(s), s initialised to
          log(1 / `temperature_init`) = log(1 / 0.07) and the scale
          clipped at `logit_scale_max` = 100 (OpenAI CLIP). open_clip
          clamps the parameter in place after each optimizer step; here
          the forward clamps, exp(min(s, log 100)), which gives the same
          scale (the parameter's gradient is zero while it is clipped).
  siglip  `losses.siglip`: the pairwise sigmoid loss with the learned
          temperature t = exp(t'), t' initialised to log(`t_init`) =
          log 10, and the learned bias b initialised to `b_init` = -10
          (big_vision's SigLIP); summed over the N^2 pairs over N.
The scalars are parameters of their own ("logit_scale", or "t_prime" and
"b"), in the "no_decay" group (0-d: no weight decay).

Large batches: `config.method.loss_block` = k > 0 computes the same loss
(value and gradient) and `i2t_accuracy` inside `jax.shard_map` over the
mesh's "data" axis, each device scoring its own images and texts k rows at
a time against the gathered other side (`losses.clip_blockwise` /
`siglip_blockwise`, `jaxssl.methods.contrastive_block`): one [k, N] tile
of logits per device instead of [N / D, N]. 0 (default): the dense loss.

Metrics: `loss`; `logit_scale` (clip) or `t` and `b` (siglip);
`i2t_accuracy`, how often an image's most similar caption of the batch is
its own; `z_std` (of the image embeddings: collapse at 0) and `pos_cos`,
the mean cosine of the matched pairs (`common.embedding_metrics`).

Zero-shot and retrieval (`jaxssl.evals.zeroshot`) read `encode_image` and
`encode_text`, the normalised joint-space embeddings in inference mode.

References:
  Radford et al., Learning Transferable Visual Models From Natural
  Language Supervision, arXiv:2103.00020 (openai/CLIP `model.py`:
  `logit_scale = log(1 / 0.07)`; the 100 clip of Sec. 2.5).
  Zhai et al., Sigmoid Loss for Language Image Pre-Training,
  arXiv:2303.15343 (google-research/big_vision
  `trainers/proj/image_text/siglip.py`: t' = log 10, b = -10).
  Zhai et al., LiT: Zero-Shot Transfer with Locked-image Text Tuning,
  arXiv:2111.07991 (`config.method.freeze_image_tower`: the image tower
  in inference mode, its params in a frozen `base.ParamGroup`; load it
  from a finished run with `config.train.init_from`).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import losses, models
from jaxssl.methods import base, common, contrastive_block, text_common
from jaxssl.models import text

LOSSES = ("clip", "siglip")


def _config(loss: str) -> ml_collections.ConfigDict:
  m = text_common.text_model_config(pre_ln=False, text_pool="mean", dropout=0.0)
  m.text_model = "bert_tiny"  # a models.TEXT_MODELS encoder (not causal)
  m.embed_dim = 128  # the joint embedding width, >= 1
  # LiT: the image tower (params and BatchNorm statistics) never changes;
  # load it with config.train.init_from (configs/lit_quick.py).
  m.freeze_image_tower = False
  # > 0: the loss in [loss_block, N] tiles per device under shard_map (same
  # value and gradient, memory ~ loss_block * N); 0: the dense loss.
  m.loss_block = 0
  if loss == "clip":
    m.temperature_init = 0.07  # logit scale starts at 1 / this, > 0
    m.logit_scale_max = 100.0  # the scale is clipped here, > 0
  else:
    m.t_init = 10.0  # t = exp(t'), t' starts at log(t_init), > 0
    m.b_init = -10.0  # the sigmoid's bias starts here
  return m


def clip_config() -> ml_collections.ConfigDict:
  """clip's `config.method` keys (but `name`) and their defaults."""
  return _config("clip")


def siglip_config() -> ml_collections.ConfigDict:
  """siglip's `config.method` keys (but `name`) and their defaults."""
  return _config("siglip")


def _check(config, loss: str) -> None:
  m = config.method
  if config.data.kind != "image_text":
    raise ValueError(
      f"config.data.kind={config.data.kind!r}: method {loss!r} reads "
      "'image_text'"
    )
  if config.model.name not in models.BACKBONES:
    raise ValueError(
      f"config.model.name={config.model.name!r}: the image tower is one of "
      f"{sorted(models.BACKBONES)}"
    )
  bidirectional = sorted(
    k for k, f in models.TEXT_MODELS.items() if not f(2).causal
  )
  if m.text_model not in bidirectional:
    raise ValueError(
      f"config.method.text_model={m.text_model!r} is not one of {bidirectional}"
    )
  for key in ("dropout", "attention_dropout"):
    if not 0.0 <= m[key] < 1.0:
      raise ValueError(f"config.method.{key}={m[key]!r} must be in [0, 1)")
  if m.text_pool not in text.POOLS:
    raise ValueError(
      f"config.method.text_pool={m.text_pool!r} is not one of {text.POOLS}"
    )
  if m.max_positions < 0:
    raise ValueError(
      f"config.method.max_positions={m.max_positions!r} must be >= 0"
    )
  positions = m.max_positions or models.TEXT_MODELS[m.text_model](2).max_len
  if config.data.seq_len > positions:
    raise ValueError(
      f"config.data.seq_len={config.data.seq_len} exceeds the {positions} "
      f"positions of config.method.text_model={m.text_model!r}"
    )
  if m.embed_dim < 1:
    raise ValueError(f"config.method.embed_dim={m.embed_dim!r} must be >= 1")
  contrastive_block.check(config)
  if loss == "clip":
    common.check_positive(config, "temperature_init", "logit_scale_max")
  else:
    common.check_positive(config, "t_init")


def check_clip(config) -> None:
  """ValueError naming the key: kind image_text, an image backbone, a
  bidirectional text model, embed_dim >= 1, loss_block an int >= 0,
  temperature_init and logit_scale_max > 0."""
  _check(config, "clip")


def check_siglip(config) -> None:
  """As `check_clip`, with t_init > 0."""
  _check(config, "siglip")


def text_tower(config) -> models.TextTransformer:
  """The text encoder `config.method.text_model` over the run's captions'
  tokenizer (`jaxssl.data.kinds.image_text.get_tokenizer`)."""
  from jaxssl.data.kinds import image_text  # pylint: disable=g-import-not-at-top

  m = config.method
  tok, _ = image_text.get_tokenizer(config)
  kwargs = {
    "dropout": float(m.dropout),
    "attention_dropout": float(m.attention_dropout),
    "pool": m.text_pool,
    "pre_ln": bool(m.pre_ln),
    "remat": bool(config.model.remat),
  }
  if m.max_positions:
    kwargs["max_len"] = int(m.max_positions)
  vocab = int(tok.get_vocab_size(with_added_tokens=True))
  return models.text_model(m.text_model, vocab, **kwargs)


def _build(config, loss_name: str) -> base.Method:
  m = config.method
  image_tower = common.backbone(config)
  text_model = text_tower(config)
  embed_dim = int(m.embed_dim)
  image_proj = nn.Dense(embed_dim, use_bias=False, name="image_proj")
  text_proj = nn.Dense(embed_dim, use_bias=False, name="text_proj")
  dropout = m.dropout > 0 or m.attention_dropout > 0
  frozen_tower = bool(m.freeze_image_tower)
  block = int(m.loss_block)

  def init(rng, batch):
    k_img, k_txt, k_ip, k_tp = jax.random.split(rng, 4)
    images = batch["image"][:2]
    variables = image_tower.init(k_img, images, train=False)
    txt = text_common.init_text_model(text_model, k_txt, batch, logits=False)
    img_feats = jnp.zeros((1, image_tower_dim(variables, images)), jnp.float32)
    txt_feats = jnp.zeros((1, text_model.width), jnp.float32)
    params = {
      "image": variables["params"],
      "text": txt,
      "image_proj": image_proj.init(k_ip, img_feats)["params"],
      "text_proj": text_proj.init(k_tp, txt_feats)["params"],
    }
    if loss_name == "clip":
      params["logit_scale"] = jnp.asarray(
        math.log(1.0 / m.temperature_init), jnp.float32
      )
    else:
      params["t_prime"] = jnp.asarray(math.log(m.t_init), jnp.float32)
      params["b"] = jnp.asarray(m.b_init, jnp.float32)
    return params, {"batch_stats": variables.get("batch_stats", {})}

  def image_tower_dim(variables, images):
    return image_tower.apply(variables, images, train=False)["feats"].shape[-1]

  def image_embed(params, extra, images, *, train):
    variables = {"params": params["image"], "batch_stats": extra["batch_stats"]}
    if train and not frozen_tower:
      out, state = image_tower.apply(
        variables, images, train=True, mutable=["batch_stats"]
      )
      new_extra = {"batch_stats": state["batch_stats"]}
    else:
      out, new_extra = image_tower.apply(variables, images, train=False), extra
    z = image_proj.apply({"params": params["image_proj"]}, out["feats"])
    return losses.l2_normalize(z.astype(jnp.float32)), new_extra

  def text_embed(params, batch, *, rng=None):
    train = rng is not None and dropout
    out = text_model.apply(
      {"params": params["text"]},
      batch["tokens"],
      batch["is_pad"],
      train=train,
      rngs={"dropout": rng} if train else None,
    )
    z = text_proj.apply({"params": params["text_proj"]}, out["feats"])
    return losses.l2_normalize(z.astype(jnp.float32))

  def loss(params, extra, batch, rng, step):
    del step
    u_img, new_extra = image_embed(params, extra, batch["image"], train=True)
    u_txt = text_embed(params, batch, rng=rng)
    if loss_name == "clip":
      scale = jnp.exp(
        jnp.minimum(params["logit_scale"], math.log(m.logit_scale_max))
      )
      terms = {"logit_scale": scale}
      if block:
        value, accuracy = contrastive_block.clip(
          u_img, u_txt, logit_scale=scale, block_size=block
        )
      else:
        value = losses.clip(u_img, u_txt, logit_scale=scale)
    else:
      t, b = jnp.exp(params["t_prime"]), params["b"]
      terms = {"t": t, "b": b}
      if block:
        value, accuracy = contrastive_block.siglip(
          u_img, u_txt, t=t, b=b, block_size=block
        )
      else:
        value = losses.siglip(u_img, u_txt, t=t, b=b)
    if not block:
      sims = u_img @ u_txt.T
      hits = jnp.argmax(sims, axis=1) == jnp.arange(sims.shape[0])
      accuracy = jnp.mean(hits.astype(jnp.float32))
    metrics = {
      "loss": value,
      **terms,
      "i2t_accuracy": accuracy,
      **common.embedding_metrics(u_img, u_txt),
    }
    return value, (new_extra, metrics)

  def features(params, extra, batch):
    variables = {"params": params["image"], "batch_stats": extra["batch_stats"]}
    return image_tower.apply(variables, batch["image"], train=False)["feats"]

  def encode_image(params, extra, batch):
    return image_embed(params, extra, batch["image"], train=False)[0]

  def encode_text(params, extra, batch):
    del extra
    return text_embed(params, batch)

  return base.Method(
    batch_coupled="its contrastive loss takes in-batch negatives",
    name=loss_name,
    init=init,
    loss=loss,
    features=features,
    protocols=(*base.IMAGE_PROTOCOLS, "zeroshot"),
    encode_image=encode_image,
    encode_text=encode_text,
    **(
      {"param_labels": _lit_labels, "param_groups": _LIT_GROUPS}
      if frozen_tower
      else {}
    ),
  )


# LiT: the image tower is locked (never updated nor decayed); its
# projection into the joint space and the text tower train.
_LIT_GROUPS = {
  **base.DEFAULT_PARAM_GROUPS,
  "image_tower": base.ParamGroup(frozen=True),
}


def _lit_labels(params):
  """The default labels, every image tower parameter labelled "image_tower"."""
  return common.relabel(
    base.default_param_labels(params), ("image",), lambda _: "image_tower"
  )


def build_clip(config) -> base.Method:
  """clip from `config.model.name` (the image tower) and `config.method`."""
  return _build(config, "clip")


def build_siglip(config) -> base.Method:
  """siglip from `config.model.name` (the image tower) and `config.method`."""
  return _build(config, "siglip")


def _smoke(method_config) -> None:
  method_config.embed_dim = min(method_config.embed_dim, 32)


CLIP = base.MethodDef(
  name="clip",
  build=build_clip,
  config=clip_config,
  check=check_clip,
  smoke=_smoke,
  data_kinds=("image_text",),
)

SIGLIP = base.MethodDef(
  name="siglip",
  build=build_siglip,
  config=siglip_config,
  check=check_siglip,
  smoke=_smoke,
  data_kinds=("image_text",),
)
