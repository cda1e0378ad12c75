"""The online linear probe: a method wrapper (solo-learn's protocol).

`with_online_probe(method, num_classes)` returns a `Method` whose params are
`{"method": <the method's params>, "online_probe": {"w", "b"}}`. At every
training step a linear classifier is trained on the stop-gradient backbone
features (`Method.features`, inference mode, with the step's incoming
`extra`) of the first view of the training batch's first view group (in
sorted order, so `global_views` before `local_views`; `image` for kinds
that give one image per example), against the batch's "label" (rows with
label < 0 are left out: the `tokens` kind's unlabelled documents).

The SSL gradients are untouched: the features are under `stop_gradient`,
and the loss the loop sees is `ssl + ce - stop_gradient(ce)`, whose value is
exactly the method's loss (so `train/loss` and the NaN checks are the
method's) and whose gradient adds the probe's cross-entropy gradient to the
probe's params only. Metrics: `train/online_probe_top1` (%) and
`train/online_probe_loss` of the batch, before the update. The probe's
params form their own parameter group `online_probe` (no weight decay, no
LARS adaptation), updated by the run's optimizer and schedule and clipped
by its own norm (`ParamGroup.clip_apart`), so the SSL updates are the same
with the probe on or off; its gradient counts in `train/grad_norm`.

Enabled by `config.train.online_probe` (`jaxssl.train.setup`).

References: da Costa et al., solo-learn (JMLR 2022), the online linear
evaluation of every method's training loop.
"""

from __future__ import annotations

import dataclasses
import types

import jax
import jax.numpy as jnp
import optax

from jaxssl.methods.base import ParamGroup

METHOD, PROBE = "method", "online_probe"


def probe_batch(batch: dict) -> dict:
  """The evaluation-style batch the features of a training batch come from.

  Raises:
    ValueError: the batch has no "label".
  """
  if "label" not in batch:
    raise ValueError(
      "config.train.online_probe: the training batches have no 'label' "
      f"(keys {sorted(batch)}); use a data kind with labels"
    )
  if "image" in batch:
    return {"image": batch["image"]}
  groups = sorted(k for k, v in batch.items() if getattr(v, "ndim", 0) == 5)
  if groups:
    return {"image": batch[groups[0]][:, 0]}
  return {k: v for k, v in batch.items() if k not in ("label", "index")}


def _probe_metrics(probe, feats, labels):
  feats = jax.lax.stop_gradient(feats.reshape(feats.shape[0], -1))
  logits = feats.astype(jnp.float32) @ probe["w"] + probe["b"]
  valid = labels >= 0
  safe = jnp.where(valid, labels, 0)
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, safe)
  count = jnp.maximum(jnp.sum(valid), 1)
  ce = jnp.sum(ce * valid) / count
  hit = (jnp.argmax(logits, -1) == safe) & valid
  return ce, 100.0 * jnp.sum(hit) / count


def with_online_probe(method, num_classes: int):
  """`method` with an online linear probe of `num_classes` classes.

  Raises:
    ValueError: `num_classes` < 2.
  """
  if num_classes < 2:
    raise ValueError(
      f"config.train.online_probe: the dataset has {num_classes} classes; "
      "the online probe needs labels of at least 2"
    )

  def init(rng, batch):
    params, extra = method.init(rng, batch)
    fb = probe_batch(batch)
    shape = jax.eval_shape(method.features, params, extra, fb).shape
    d = 1
    for s in shape[1:]:
      d *= s
    probe = {
      "w": jnp.zeros((d, num_classes), jnp.float32),
      "b": jnp.zeros((num_classes,), jnp.float32),
    }
    return {METHOD: params, PROBE: probe}, extra

  def loss(params, extra, batch, rng, step):
    ssl, (new_extra, metrics) = method.loss(
      params[METHOD], extra, batch, rng, step
    )
    feats = method.features(
      jax.lax.stop_gradient(params[METHOD]), extra, probe_batch(batch)
    )
    ce, top1 = _probe_metrics(params[PROBE], feats, batch["label"])
    metrics = {
      **metrics,
      "online_probe_loss": ce,
      "online_probe_top1": top1,
    }
    # Value: exactly `ssl`; gradient: ssl's plus the probe's cross-entropy.
    return ssl + (ce - jax.lax.stop_gradient(ce)), (new_extra, metrics)

  def inner(fn):
    if fn is None:
      return None
    return lambda params, *args: fn(params[METHOD], *args)

  def param_labels(params):
    return {
      METHOD: method.param_labels(params[METHOD]),
      PROBE: jax.tree.map(lambda _: PROBE, params[PROBE]),
    }

  if PROBE in method.param_groups:
    raise ValueError(f"method {method.name!r} already has a group {PROBE!r}")
  groups = types.MappingProxyType(
    {
      **method.param_groups,
      PROBE: ParamGroup(weight_decay=False, clip_apart=True),
    }
  )
  return dataclasses.replace(
    method,
    init=init,
    loss=loss,
    features=inner(method.features),
    update_extra=inner(method.update_extra),
    figures=inner(method.figures),
    param_labels=param_labels,
    param_groups=groups,
    logits=inner(method.logits),
    encode_image=inner(method.encode_image),
    encode_text=inner(method.encode_text),
  )
