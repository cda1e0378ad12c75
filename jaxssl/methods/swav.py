"""SwAV: swapped prediction of online cluster codes, with multi-crop.

Every crop goes through the backbone, a projector, L2 normalisation and K
unit-norm prototypes (`prototype_heads.SwAVHead`), giving prototype scores.
For each global crop, Sinkhorn-Knopp turns the scores of the whole global
batch into soft codes that spread the batch equally over the prototypes
(`iterations` iterations, entropic regularisation `epsilon`: the keywords
of `losses.swav` and `losses.sinkhorn`);
every other crop (global or local) predicts those codes with a softmax at
temperature `method.temperature` (`jaxssl.losses.swav`). Codes come from
the global crops only and carry no gradient.

Multi-crop views are read as DINO reads them (`jaxssl.methods.multicrop`:
the group with the largest `size` holds the global crops, other groups local
crops; the backbone runs once per group, the head once on all crops).

Prototypes are normalised inside the forward pass rather than projected
back onto the sphere after each step (see `prototype_heads.Prototypes` for
why this is equivalent to first order). The optimizer freezes them for the
first `freeze_last_layer_steps` steps (official `freeze_prototypes_niters`,
grad = None: a parameter group with `base.ParamGroup.frozen_until_step`, so
they stay bit-identical, get no weight decay meanwhile, and their momentum
starts fresh at unfreeze).

Queue (small batches): with `queue_size` > 0, the L2-normalised embeddings
of the global crops of the last steps are kept in `extra["queue"]`
([num_global, queue_size, d], newest first, updated every step). From step
`max(queue_start_steps, ceil(queue_size / batch))` on -- once the queue is
full of real embeddings, as the official code waits for -- Sinkhorn runs
over the queue's scores (against the current prototypes) stacked on the
batch's, and the batch rows of the result are the codes. The official code
starts filling at `epoch_queue_starts`; filling from step 0 instead gives
the same queue contents whenever it is in use.

Config keys read: method.{num_prototypes, temperature, iterations, epsilon,
queue_size, queue_start_steps, freeze_last_layer_steps};
model.{name, patch_size, proj_hidden_dim, proj_dim, proj_layers,
proj_last_bn}.

References:
  Caron et al., "Unsupervised Learning of Visual Features by Contrasting
  Cluster Assignments", NeurIPS 2020, arXiv:2006.09882; official code
  github.com/facebookresearch/swav (`main_swav.py`: temperature 0.1,
  epsilon 0.05, 3 Sinkhorn iterations, 3000 prototypes, feat_dim 128,
  queue_length 3840 from epoch 15 for batches of 256,
  freeze_prototypes_niters 313).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import losses
from jaxssl.methods import base, common, multicrop
from jaxssl.models import prototype_heads


def swapped_prediction(
  codes: jax.Array, scores: jax.Array, temperature
) -> jax.Array:
  """SwAV's cross-entropy from given codes (the queue path of the loss).

  loss = 1/(v_h (V-1)) sum_a sum_{b != a} mean_i [-sum_c q_a,ic log
  softmax(s_b,i / temperature)_c], as `losses.swav` once it has its codes.

  Args:
    codes: [v_h, n, k] codes of the global crops (no gradient).
    scores: [V, n, k] prototype scores of all crops, global ones first.
    temperature: softmax temperature.

  Returns:
    float32 scalar.
  """
  v_h, v = codes.shape[0], scores.shape[0]
  log_p = jax.nn.log_softmax(scores / temperature, axis=-1)
  ce = (
    -jnp.einsum("aic,bic->ab", jax.lax.stop_gradient(codes), log_p)
    / scores.shape[1]
  )
  is_other = ~jnp.eye(v_h, v, dtype=bool)
  return jnp.sum(jnp.where(is_other, ce, 0.0)) / (v_h * (v - 1))


def queue_start(config, batch_size: int) -> int:
  """First step at which the queue is used: it must be full and started."""
  m = config.method
  return max(m.queue_start_steps, math.ceil(m.queue_size / batch_size))


def default_config() -> ml_collections.ConfigDict:
  """SwAV's `config.method` keys (but `name`) and their defaults."""
  m = multicrop.prototype_config(num_prototypes=3000)
  m.temperature = 0.1  # losses.swav's softmax temperature, > 0
  # losses.swav's Sinkhorn-Knopp: entropic regularisation and iterations.
  m.epsilon = 0.05
  m.iterations = 3
  m.queue_size = 0  # embeddings kept from past steps; 0: no queue
  m.queue_start_steps = 0  # use the queue from this step on
  return m


def check_config(config) -> None:
  """ValueError naming the key: multi-crop view groups, prototypes, values
  in range."""
  multicrop.check_views(config, method="swav")
  multicrop.check_prototypes(config)
  common.check_positive(config, "temperature", "iterations", "epsilon")
  common.check_non_negative(config, "queue_size", "queue_start_steps")


def smoke(m) -> None:
  """Shrinks SwAV's keys of `config.method` in place."""
  multicrop.smoke_prototypes(m)
  m.queue_size = min(m.queue_size, 32)


def build(config) -> base.Method:
  """SwAV from `config` (see the module docstring for the keys read)."""
  m = config.method
  global_group, local_groups = multicrop.view_groups(config, method="swav")
  groups = (global_group, *local_groups)
  backbone = multicrop.grouped(config, common.backbone(config))
  head = prototype_heads.SwAVHead(
    multicrop.grouped(config, common.projector(config)), m.num_prototypes
  )
  by_image = m.bn_groups > 1
  num_global = config.data.views[global_group].num_views
  num_views = sum(config.data.views[g].num_views for g in groups)
  k = m.num_prototypes
  sinkhorn_kw = dict(epsilon=m.epsilon, iterations=m.iterations)

  def sinkhorn(scores):
    return losses.sinkhorn(jax.lax.stop_gradient(scores), **sinkhorn_kw)

  def init(rng, batch):
    images = common.merge_views(batch[global_group])[:2]
    params, stats = multicrop.init_backbone_and_head(
      backbone, head, rng, images
    )
    extra = {"batch_stats": stats}
    if m.queue_size:
      d = params["head"]["prototypes"]["kernel"].shape[0]
      extra["queue"] = jnp.zeros((num_global, m.queue_size, d), jnp.float32)
    return params, extra

  def loss(params, extra, batch, rng, step):
    del rng  # No stochastic part in the step (augmentations are upstream).
    views = [batch[g] for g in groups]
    n = views[0].shape[0]
    out, stats = multicrop.apply_backbone_and_head(
      backbone, head, params, extra["batch_stats"], views, by_image=by_image
    )
    scores = out["scores"].reshape(num_views, n, k)
    z = out["z"].reshape(num_views, n, -1)
    high, low = scores[:num_global], scores[num_global:]
    new_extra = {"batch_stats": stats}
    metrics = {}
    if not m.queue_size:
      value = losses.swav(high, low, temperature=m.temperature, **sinkhorn_kw)
      codes = jax.vmap(sinkhorn)(high)  # For the metrics only.
    else:
      queue = extra["queue"]
      prototypes = losses.l2_normalize(
        jax.lax.stop_gradient(params["head"]["prototypes"]["kernel"]), axis=0
      )
      queue_scores = queue @ prototypes  # [num_global, queue_size, k]
      with_queue = jax.vmap(
        lambda q, s: sinkhorn(jnp.concatenate([q, s]))[-n:]
      )(queue_scores, high)
      in_use = jnp.asarray(step) >= queue_start(config, n)
      codes = jnp.where(in_use, with_queue, jax.vmap(sinkhorn)(high))
      value = swapped_prediction(codes, scores, m.temperature)
      new_extra["queue"] = jnp.concatenate(
        [jax.lax.stop_gradient(z[:num_global]), queue], axis=1
      )[:, : m.queue_size]
      metrics["queue_in_use"] = in_use.astype(jnp.float32)
    metrics.update(
      {
        "loss": value,
        **common.embedding_metrics(z[0], z[1]),
        "code_entropy": losses.mean_entropy(jnp.log(jnp.maximum(codes, 1e-30))),
        "pred_marginal_entropy": losses.marginal_entropy(
          high[0], temperature=m.temperature
        ),
      }
    )
    return value, (new_extra, metrics)

  def features(params, extra, batch):
    images = batch["image"]
    feats, _ = multicrop.apply_backbone(
      backbone,
      params["backbone"],
      extra["batch_stats"]["backbone"],
      [images],
      train=False,
    )
    return feats

  def param_labels(params):
    return common.relabel(
      base.default_param_labels(params),
      ("head", "prototypes"),
      lambda _: "prototypes",
    )

  return base.Method(
    batch_coupled="Sinkhorn-Knopp balances the codes over the whole batch",
    name="swav",
    init=init,
    loss=loss,
    features=features,
    param_labels=param_labels,
    param_groups={
      **base.DEFAULT_PARAM_GROUPS,
      # The prototype matrix (bias-free, 2-d) is decayed and LARS-adapted
      # as in the official code.
      "prototypes": base.ParamGroup(
        frozen_until_step=m.freeze_last_layer_steps
      ),
    },
  )


METHOD = base.MethodDef(
  name="swav",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
)
