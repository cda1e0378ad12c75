"""Small helpers shared by method files.

View handling, the one-encoder forward of the methods that put both views
through one network in one call, collapse metrics, per-step schedules and
EMA of parameters and parameter-group labels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def single_group(config, *, num_views: int, method: str) -> str:
  """Name of the one view group a two-view method reads; raises if unfit."""
  groups = dict(config.data.views.items())
  if len(groups) != 1:
    raise ValueError(
      f"method {method!r} reads one view group, but "
      f"config.data.views has {sorted(groups)}"
    )
  ((name, group),) = groups.items()
  if group.num_views != num_views:
    raise ValueError(
      f"method {method!r} needs config.data.views.{name}."
      f"num_views={num_views}, got {group.num_views}"
    )
  return name


def merge_views(views: jax.Array) -> jax.Array:
  """[n, v, h, w, c] -> [v * n, h, w, c], view-major (rows 0..n-1 = view 0)."""
  if views.ndim != 5:
    raise ValueError(f"views must be [n, v, h, w, c], got {views.shape}")
  n, v = views.shape[:2]
  return jnp.swapaxes(views, 0, 1).reshape(v * n, *views.shape[2:])


# One encoder (backbone + projector) for both views, in one call: SimCLR,
# SupCon, Barlow Twins and VICReg. BatchNorm then normalises over all the
# views of the batch, as their official code does.


def init_variables(module, rng: jax.Array, images: jax.Array):
  """`(params, {"batch_stats": ...})` of `module` from sample images."""
  variables = module.init(rng, images, train=False)
  return variables["params"], {"batch_stats": variables.get("batch_stats", {})}


def init_encoder(encoder, rng: jax.Array, views: jax.Array):
  """`(params, {"batch_stats": ...})` of `encoder` from [n, v, h, w, c]."""
  return init_variables(encoder, rng, merge_views(views)[:2])


def encode_merged(encoder, params, extra, views: jax.Array):
  """Training-mode projections of every view, all views in one call.

  Args:
    encoder: a `models.Encoder`.
    params: its params.
    extra: `{"batch_stats": ...}`, its BatchNorm statistics.
    views: [n, v, h, w, c].

  Returns:
    (zs, extra): the list of the v [n, d] projections, one per view, and
    `{"batch_stats": ...}` after the update.
  """
  n, v = views.shape[:2]
  out, state = encoder.apply(
    {"params": params, "batch_stats": extra["batch_stats"]},
    merge_views(views),
    train=True,
    mutable=["batch_stats"],
  )
  zs = [out["z"][i * n : (i + 1) * n] for i in range(v)]
  return zs, {"batch_stats": state["batch_stats"]}


def encoder_features(encoder, params, extra, images: jax.Array) -> jax.Array:
  """[n, d] backbone features of `encoder` in inference mode."""
  out = encoder.apply(
    {"params": params, "batch_stats": extra["batch_stats"]}, images, train=False
  )
  return out["feats"]


def embedding_metrics(z1: jax.Array, z2: jax.Array) -> dict[str, jax.Array]:
  """Collapse diagnostics of two views' embeddings.

  `z_std` is the per-dimension std over the batch of L2-normalised
  embeddings, averaged over dimensions; it tends to 1/sqrt(d) for
  well-spread embeddings and to 0 under collapse (SimSiam, Sec. 4).
  `pos_cos` is the mean cosine similarity of positive pairs.
  """
  z1 = z1.astype(jnp.float32)
  z2 = z2.astype(jnp.float32)
  u1 = z1 / jnp.maximum(jnp.linalg.norm(z1, axis=-1, keepdims=True), 1e-12)
  u2 = z2 / jnp.maximum(jnp.linalg.norm(z2, axis=-1, keepdims=True), 1e-12)
  return {
    "z_std": jnp.mean(jnp.std(u1, axis=0)),
    "pos_cos": jnp.mean(jnp.sum(u1 * u2, axis=-1)),
  }


# Per-step schedules. Functions of the step only (no state), so a resumed run
# computes exactly the values an uninterrupted one would.


def cosine_increase(
  step: jax.Array, total_steps: int, base: float, end: float = 1.0
) -> jax.Array:
  """`base` at step 0 rising to `end` at `total_steps` on a half cosine.

  BYOL's `target_ema` (Grill et al. 2020, Sec. 3.2): tau_k = 1 - (1 -
  tau_base) * (cos(pi k / K) + 1) / 2, used by MoCo v3 and DINO as well.
  Steps past `total_steps` stay at `end`.
  """
  frac = jnp.clip(jnp.asarray(step, jnp.float32) / max(total_steps, 1), 0, 1)
  return end - (end - base) * (jnp.cos(jnp.pi * frac) + 1) / 2


def linear_warmup(
  step: jax.Array, warmup_steps: int, start: float, end: float
) -> jax.Array:
  """`start` at step 0, linearly to `end` at `warmup_steps`, then `end`."""
  if warmup_steps <= 0:
    return jnp.asarray(end, jnp.float32)
  frac = jnp.clip(jnp.asarray(step, jnp.float32) / warmup_steps, 0, 1)
  return start + (end - start) * frac


def ema(target, online, momentum: jax.Array):
  """momentum * target + (1 - momentum) * online, leaf by leaf.

  Used for teacher parameters and teacher BatchNorm statistics alike: the
  teacher's running statistics are averaged from the student's, not frozen
  at their initial values.
  """
  return jax.tree.map(
    lambda t, o: (momentum * t + (1 - momentum) * o).astype(t.dtype),
    target,
    online,
  )


def relabel(labels, path: tuple[str, ...], label_fn):
  """`labels` with each leaf under `path` replaced by `label_fn(leaf)`.

  For a method's `param_labels`: start from `base.default_param_labels`
  and give one subtree its own group(s), e.g. `relabel(labels, ("head",
  "last_layer"), lambda _: "last_layer")`.

  Args:
    labels: nested dicts of str, the structure of the params.
    path: dict keys from the root to the subtree.
    label_fn: old label -> new label.

  Raises:
    KeyError: `path` is not in `labels`.
  """
  if not path:
    return jax.tree.map(label_fn, labels)
  key, *rest = path
  return {**labels, key: relabel(labels[key], tuple(rest), label_fn)}
