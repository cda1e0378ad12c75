"""Small helpers shared by method files.

The one place that turns `config.model` into image models (`backbone`,
`projector`, `predictor`, `encoder`; the text models are built in
`jaxssl.methods.text_common`), checks of `config.method`
values, view handling, the one-encoder forward of SimCLR, SupCon, Barlow
Twins and VICReg (each view in its own call, or both in one), collapse
metrics, per-step schedules and EMA of parameters (with the EMA keys of
the methods that have a teacher, `ema_config`) and parameter-group labels.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxssl import models

# Config -> model. Models take plain arguments (`jaxssl.models`); these read
# `config.model`, so every method builds its networks the same way.


def backbone(config, **overrides) -> nn.Module:
  """The backbone `config.model.name`; `backbone(config).kind` is its kind.

  Args:
    config: the run's config; reads `model.name`, `model.remat` and, for
      ViTs, `model.patch_size` and `model.vit_pool`.
    **overrides: other `models.backbone` arguments (e.g. MAE's
      `pos_embed="sincos"`).

  Raises:
    ValueError: naming `config.model.name` if it is not a backbone.
  """
  name = config.model.name
  if name not in models.BACKBONES:
    raise ValueError(
      f"config.model.name={name!r} is not one of {sorted(models.BACKBONES)}"
    )
  kwargs = {
    "patch_size": config.model.patch_size,
    "pool": config.model.vit_pool,
    "remat": bool(config.model.remat),
    "dtype": config.model.dtype,
    "conv_impl": config.model.conv_impl,
    "zero_init_residual": bool(config.model.zero_init_residual),
  }
  conv = models.BACKBONES[name]().kind == "conv"
  if config.model.dtype != "float32" and not conv:
    raise ValueError(
      f"config.model.dtype={config.model.dtype!r} is implemented for the "
      f"ResNets only, not {name!r}"
    )
  return models.backbone(name, **{**kwargs, **overrides})


def projector(config) -> nn.Module | None:
  """The projection MLP of `config.model.proj_*` (None: proj_layers=0)."""
  m = config.model
  if m.proj_layers < 0:
    raise ValueError(
      f"config.model.proj_layers={m.proj_layers!r} must be >= 0 (0: no "
      "projector)"
    )
  return models.projector(
    num_layers=m.proj_layers,
    hidden_dim=m.proj_hidden_dim,
    out_dim=m.proj_dim,
    use_bn=m.proj_bn,
    last_bn=m.proj_last_bn,
    dtype=m.dtype,
  )


def predictor(config) -> nn.Module:
  """The predictor MLP of `config.model.pred_*`, back to `proj_dim`."""
  m = config.model
  return models.predictor(
    hidden_dim=m.pred_hidden_dim,
    out_dim=m.proj_dim,
    last_bn=m.pred_last_bn,
    dtype=m.dtype,
  )


def encoder(config) -> models.Encoder:
  """`backbone(config)` followed by `projector(config)`."""
  return models.Encoder(backbone(config), projector(config))


def check_projector(config, method: str) -> None:
  """Methods whose loss reads "z" need a projector: proj_layers >= 1."""
  if config.model.proj_layers < 1:
    raise ValueError(
      f"config.model.proj_layers={config.model.proj_layers!r}: "
      f"{method} needs a projector (>= 1 layer)"
    )


# Text models (BERT, GPT-2: `jaxssl.models.text`). Their switches are keys
# of `config.method` (every text method owns the same four, with its own
# defaults), as `config.model` holds the image backbones' keys; the size is
# `config.model.name` and the vocabulary the run's tokenizer.


def check_positive(config, *keys: str) -> None:
  """Each `config.method.<key>` must be > 0."""
  for key in keys:
    value = config.method[key]
    if not value > 0:
      raise ValueError(f"config.method.{key}={value!r} must be > 0")


def check_non_negative(config, *keys: str) -> None:
  """Each `config.method.<key>` must be >= 0."""
  for key in keys:
    value = config.method[key]
    if not value >= 0:
      raise ValueError(f"config.method.{key}={value!r} must be >= 0")


def check_in_unit_interval(config, *keys: str) -> None:
  """Each `config.method.<key>` must be in [0, 1]."""
  for key in keys:
    value = config.method[key]
    if not 0.0 <= value <= 1.0:
      raise ValueError(f"config.method.{key}={value!r} must be in [0, 1]")


# The EMA teacher of BYOL, MoCo v3 and DINO: its keys, their check and the
# schedule (`cosine_increase` below).

# `config.method.eval_network`: the network whose backbone
# `Method.features` (hence every evaluation protocol) reads: the trained
# one ("student": BYOL's online, MoCo v3's base encoder) or its EMA
# ("teacher": BYOL's target, MoCo v3's momentum encoder).
EVAL_NETWORKS = ("student", "teacher")


def ema_config(eval_network: str = "student") -> ml_collections.ConfigDict:
  """The `config.method` keys of an EMA teacher, with their defaults.

  Args:
    eval_network: the method's default `eval_network`, as its official
      evaluation: "student" (BYOL, MoCo v3) or "teacher" (DINO's
      `--checkpoint_key teacher`).
  """
  m = ml_collections.ConfigDict()
  # Teacher momentum per step: BYOL's half cosine from `ema_momentum` at
  # step 0 to `ema_momentum_end` at train.total_steps.
  m.ema_momentum = 0.996
  m.ema_momentum_end = 1.0
  m.eval_network = eval_network  # one of EVAL_NETWORKS
  return m


def check_ema(config) -> None:
  """ValueError naming the key unless 0 <= ema_momentum <= _end <= 1 and
  eval_network is one of `EVAL_NETWORKS`."""
  network = config.method.eval_network
  if network not in EVAL_NETWORKS:
    raise ValueError(
      f"config.method.eval_network={network!r} must be one of {EVAL_NETWORKS}"
    )
  start = config.method.ema_momentum
  end = config.method.ema_momentum_end
  if not 0.0 <= start <= 1.0:
    raise ValueError(f"config.method.ema_momentum={start!r} must be in [0, 1]")
  if not start <= end <= 1.0:
    raise ValueError(
      f"config.method.ema_momentum_end={end!r} must be in "
      f"[config.method.ema_momentum={start!r}, 1]"
    )


def ema_momentum(config, step: jax.Array) -> jax.Array:
  """The teacher momentum of `step` (`cosine_increase` of the EMA keys)."""
  return cosine_increase(
    step,
    config.train.total_steps,
    config.method.ema_momentum,
    config.method.ema_momentum_end,
  )


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


# One encoder (backbone + projector) for both views: SimCLR, SupCon, Barlow
# Twins and VICReg. `config.method.bn_per_view` (`bn_per_view_config`)
# chooses between one call per view (BatchNorm statistics per view: official
# Barlow Twins and VICReg, solo-learn's BaseMethod for every method) and one
# call on all views (statistics over all of them: official SimCLR and
# SupCon, which concatenate the views).


def bn_per_view_config(default: bool) -> ml_collections.ConfigDict:
  """The `config.method.bn_per_view` key with the method's default.

  Args:
    default: the official code's choice: True when it forwards each view
      separately.
  """
  m = ml_collections.ConfigDict()
  # True: each view through the encoder in its own call, so BatchNorm
  # normalises it with its own batch statistics; False: all views in one
  # call, statistics over all of them.
  m.bn_per_view = default
  return m


def init_variables(module, rng: jax.Array, images: jax.Array):
  """`(params, {"batch_stats": ...})` of `module` from sample images."""
  variables = module.init(rng, images, train=False)
  return variables["params"], {"batch_stats": variables.get("batch_stats", {})}


def init_encoder(encoder, rng: jax.Array, views: jax.Array):
  """`(params, {"batch_stats": ...})` of `encoder` from [n, v, h, w, c]."""
  return init_variables(encoder, rng, merge_views(views)[:2])


def encode_views(
  encoder, params, extra, views: jax.Array, *, per_view: bool
) -> tuple[list[jax.Array], dict]:
  """Training-mode projections of every view (`encode_merged` or one call
  per view).

  Per view, the running BatchNorm statistics are updated once per call,
  chained in view order: two consecutive PyTorch forwards give running =
  0.9 (0.9 r + 0.1 m1) + 0.1 m2 for momentum 0.1, and Flax's momentum 0.9
  is the same EMA. (Flax's running variance is the EMA of the biased batch
  variance, PyTorch's of the unbiased one, for every BatchNorm in jaxssl.)

  Args:
    encoder: a `models.Encoder`.
    params: its params.
    extra: `{"batch_stats": ...}`, its BatchNorm statistics.
    views: [n, v, h, w, c].
    per_view: each view in its own call, else all views in one.

  Returns:
    (zs, extra): the list of the v [n, d] projections, one per view, and
    `{"batch_stats": ...}` after the update(s).
  """
  if not per_view:
    return encode_merged(encoder, params, extra, views)
  if views.ndim != 5:
    raise ValueError(f"views must be [n, v, h, w, c], got {views.shape}")
  stats = extra["batch_stats"]
  zs = []
  for v in range(views.shape[1]):
    out, state = encoder.apply(
      {"params": params, "batch_stats": stats},
      views[:, v],
      train=True,
      mutable=["batch_stats"],
    )
    stats = state["batch_stats"]
    zs.append(out["z"])
  return zs, {"batch_stats": stats}


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
