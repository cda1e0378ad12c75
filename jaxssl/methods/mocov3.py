"""MoCo v3: in-batch InfoNCE between online predictions and momentum keys.

The online network (backbone, projector, predictor) gives queries q, the
momentum encoder (backbone and projector, an EMA of the online ones with no
gradient) gives keys k. With q and k L2-normalised, each query's positive is
the key of the other view of the same image and its negatives the keys of
every other image of the GLOBAL batch (no queue):

  ctr(q, k) = CE(q k^T / tau, diag) * 2 tau,
  L = ctr(q1, k2) + ctr(q2, k1).

The 2 tau factor (official code) makes the gradient scale independent of
the temperature. Under `jit` on a sharded batch the arrays are the global
batch, so `losses.info_nce` (no `axis_name`) already contrasts against all
N keys, like the official `concat_all_gather`.

Official defaults (arXiv:2104.02057 and github.com/facebookresearch/moco-v3,
`main_moco.py`, `CONFIG.md`): batch 4096; MLP heads with BN on every hidden
layer and an affine-free BN on the output, hidden width 4096, output 256;
momentum m = 0.99 rising to 1 on a half cosine over training
(`--moco-m-cos`). ViT (ViT-S/16, ViT-B/16): 3-layer projector, 2-layer
predictor with output BN, temperature 0.2, AdamW lr 1.5e-4 x B/256, weight
decay 0.1, 40 warm-up epochs, 300 epochs, frozen random patch projection
(`--stop-grad-conv1`); 73.2% (ViT-S) / 76.7% (ViT-B) linear top-1.
ResNet-50: 2-layer projector, 2-layer predictor without output BN,
temperature 1.0, LARS lr 0.6 x B/256 (100 epochs; 0.3 for 300/1000),
weight decay 1e-6 (1.5e-6 at 1000 epochs, with m = 0.996); 68.9 / 72.8 /
74.6% at 100 / 300 / 1000 epochs. The heads follow `model.proj_layers`,
`model.proj_last_bn` and `model.pred_last_bn`. Augmentations are BYOL's
(blur p = 1.0 / 0.1, solarisation p = 0.0 / 0.2).

Implementation notes: each view goes through the networks separately
(BatchNorm statistics per view, as the official code); the momentum
encoder runs in training mode (batch statistics) under `stop_gradient`, and
its running statistics in `extra` are the EMA of the online ones (see
`byol`; both use `online_target`). `features` is the online (base)
backbone in inference mode, as the official linear probe
(`main_lincls.py` loads `base_encoder`); `method.eval_network="teacher"`
reads the momentum encoder's. The metric `tau` is the encoder momentum m
of the step, `contrast_acc` the fraction of queries whose positive key is
the most similar. `method.freeze_patch_embed` (ViTs only; official
`--stop-grad-conv1`) keeps the patch projection at its random
initialisation (Xavier-uniform, as the official `vits.py`): a frozen
parameter group (`base.ParamGroup.frozen`), never updated nor decayed.

References:
  Chen, Xie & He, "An Empirical Study of Training Self-Supervised Vision
  Transformers", ICCV 2021, arXiv:2104.02057.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import losses
from jaxssl.methods import base, common, online_target


def default_config() -> ml_collections.ConfigDict:
  """MoCo v3's `config.method` keys (but `name`) and their defaults."""
  m = common.ema_config()
  m.temperature = 0.1  # losses.info_nce's softmax temperature, > 0
  # ViTs: a frozen random patch projection (official --stop-grad-conv1).
  m.freeze_patch_embed = False
  return m


def check_config(config) -> None:
  """ValueError naming the key: one group of two views, a projector,
  temperature > 0, the EMA momenta in range."""
  common.single_group(config, num_views=2, method="mocov3")
  common.check_projector(config, "mocov3")
  common.check_positive(config, "temperature")
  common.check_ema(config)
  if config.method.freeze_patch_embed and (
    common.backbone(config).kind != "vit"
  ):
    raise ValueError(
      "config.method.freeze_patch_embed=True needs a ViT backbone, got "
      f"config.model.name={config.model.name!r}"
    )


def _top1(q: jax.Array, k: jax.Array) -> jax.Array:
  """Fraction of rows i whose most similar key is k[i]."""
  hits = jnp.argmax(q @ k.T, axis=1) == jnp.arange(q.shape[0])
  return jnp.mean(hits.astype(jnp.float32))


# Official `--stop-grad-conv1`: the patch projection stays at its random
# initialisation, never updated nor decayed.
_FROZEN_PATCH_EMBED_GROUPS = {
  **base.DEFAULT_PARAM_GROUPS,
  "patch_embed": base.ParamGroup(frozen=True),
}


def _frozen_patch_embed_labels(params):
  """The default labels, the ViT's patch projection labelled "patch_embed"."""
  return common.relabel(
    base.default_param_labels(params),
    ("encoder", "backbone", "patch_embed"),
    lambda _: "patch_embed",
  )


def build(config) -> base.Method:
  """MoCo v3 from `config.model` (heads), the EMA keys and the temperature.

  Reads the single two-view group of `config.data.views`,
  `config.method.temperature`, `config.method.ema_momentum(_end)`,
  `config.method.freeze_patch_embed`, `config.method.eval_network` and
  `config.train.total_steps` (the length of the momentum schedule).

  Raises:
    ValueError: naming the key, e.g. `freeze_patch_embed` without a ViT.
  """
  group = common.single_group(config, num_views=2, method="mocov3")
  temperature = config.method.temperature
  network = config.method.eval_network
  encoder = common.encoder(config)
  online = online_target.OnlineNetwork(encoder, common.predictor(config))

  def init(rng, batch):
    params, extra = online_target.init(online, rng, batch[group][:2, 0])
    return params, online_target.with_target(params, extra)

  def loss(params, extra, batch, rng, step):
    del rng  # No stochastic part in the step.
    views = batch[group]
    outs, stats = online_target.encode_views(
      online, params, extra["batch_stats"], views
    )
    teacher = extra["teacher"]
    keys, _ = online_target.encode_views(
      encoder, teacher["params"], teacher["batch_stats"], views
    )
    q1, q2 = (losses.l2_normalize(o["p"]) for o in outs)
    k1, k2 = (losses.l2_normalize(jax.lax.stop_gradient(k["z"])) for k in keys)
    value = (
      2
      * temperature
      * (
        losses.info_nce(q1, k2, temperature=temperature)
        + losses.info_nce(q2, k1, temperature=temperature)
      )
    )
    metrics = {
      "loss": value,
      "tau": common.ema_momentum(config, step),
      "contrast_acc": 0.5 * (_top1(q1, k2) + _top1(q2, k1)),
      **common.embedding_metrics(outs[0]["z"], outs[1]["z"]),
    }
    return value, ({**extra, "batch_stats": stats}, metrics)

  def features(params, extra, batch):
    images = batch["image"]
    return online_target.features(
      encoder, params, extra, images, network=network
    )

  def update_extra(params, extra, step):
    return online_target.ema_update(config, params, extra, step)

  groups = {}
  if config.method.freeze_patch_embed:
    groups = dict(
      param_labels=_frozen_patch_embed_labels,
      param_groups=_FROZEN_PATCH_EMBED_GROUPS,
    )
  return base.Method(
    batch_coupled="InfoNCE takes its negatives from the whole batch",
    name="mocov3",
    init=init,
    loss=loss,
    features=features,
    update_extra=update_extra,
    **groups,
  )


METHOD = base.MethodDef(
  name="mocov3",
  build=build,
  config=default_config,
  check=check_config,
)
