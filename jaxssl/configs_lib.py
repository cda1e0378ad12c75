"""The base config (every key and its default), arg parsing, loading, checks.

Every experiment config in `configs/` starts from `base_config()` and changes
values; it may add view groups under `data.views` (built with `view_group()`,
or from a published recipe in `jaxssl.recipes`) but no other key.
`validate()` rejects unknown keys and bad values with a message naming the
key, before anything expensive starts.
"""

from __future__ import annotations

import importlib.util
import keyword
import os
from typing import Any

import ml_collections

ConfigDict = ml_collections.ConfigDict

# Augmentation keys shared by every view group (see `jaxssl.data.views`).
_PROB_KEYS = (
  "flip_prob",
  "jitter_prob",
  "gray_prob",
  "blur_prob",
  "solarize_prob",
)


def view_group(**overrides: Any) -> ConfigDict:
  """One group of augmented views (SimCLR defaults, CIFAR-sized).

  Probabilities (`*_prob`) are a float for every view of the group, or a
  tuple with one value per view (BYOL's asymmetric blur/solarize).

  Args:
    **overrides: keys below to change.

  Returns:
    A ConfigDict with keys: num_views, size, crop_scale, crop_ratio,
    flip_prob, jitter_prob, brightness, contrast, saturation, hue, gray_prob,
    blur_prob, blur_sigma, solarize_prob, solarize_threshold.
  """
  group = dict(
    num_views=2,  # views in this group
    size=32,  # output side in pixels
    crop_scale=(0.08, 1.0),  # random resized crop: area fraction range
    crop_ratio=(3 / 4, 4 / 3),  # random resized crop: aspect ratio range
    flip_prob=0.5,
    jitter_prob=0.8,  # colour jitter applied with this probability
    brightness=0.4,
    contrast=0.4,
    saturation=0.4,
    hue=0.1,
    gray_prob=0.2,
    blur_prob=0.0,
    blur_sigma=(0.1, 2.0),
    solarize_prob=0.0,
    solarize_threshold=0.5,
  )
  unknown = set(overrides) - set(group)
  if unknown:
    raise ValueError(
      f"view_group: unknown keys {sorted(unknown)}; "
      f"valid keys are {sorted(group)}"
    )
  group.update(overrides)
  return ConfigDict(group)


def base_config() -> ConfigDict:
  """Every config key with its default. Library code reads only these."""
  c = ConfigDict()
  c.seed = 0

  c.data = ConfigDict()
  # "embedded_digits" (ships with the package), "image_folder" (data_dir is a
  # folder of class sub-folders), or any TFDS name with image/label features.
  c.data.name = "embedded_digits"
  c.data.data_dir = ""  # TFDS data_dir, or the image folder's root
  c.data.train_split = "train"  # split the method trains on
  c.data.eval_split = "test"  # split kNN / probes are scored on
  c.data.image_key = "image"
  c.data.label_key = "label"
  c.data.image_size = 32  # evaluation images are resized to this side
  c.data.mean = (0.5, 0.5, 0.5)  # per-channel normalisation after [0, 1]
  c.data.std = (0.25, 0.25, 0.25)
  c.data.shuffle_buffer = 10_000
  c.data.views = ConfigDict({"views": view_group()})

  c.model = ConfigDict()
  # See jaxssl.models.BACKBONES for names.
  c.model.name = "tiny_resnet"
  c.model.patch_size = 16  # ViTs only
  c.model.vit_pool = "cls"  # ViT features: "cls" token or "mean" pooled
  c.model.proj_hidden_dim = 2048
  c.model.proj_dim = 128
  c.model.proj_layers = 2  # linear layers in the projection MLP
  c.model.proj_last_bn = False  # affine-free BN on the projector output
  c.model.pred_hidden_dim = 512  # predictor MLP (BYOL, SimSiam, MoCo v3)
  c.model.pred_last_bn = False  # affine-free BN on the predictor output

  c.method = ConfigDict()
  c.method.name = "simclr"  # see jaxssl.methods.METHODS
  c.method.temperature = 0.1  # SimCLR, MoCo v3, SupCon, SwAV
  # EMA teacher (BYOL, MoCo v3, DINO): momentum per step, cosine from
  # `ema_momentum` at step 0 to `ema_momentum_end` at train.total_steps.
  c.method.ema_momentum = 0.996
  c.method.ema_momentum_end = 1.0
  # Prototype heads (DINO, SwAV).
  c.method.num_prototypes = 65536  # DINO's K / SwAV's prototypes
  c.method.head_hidden_dim = 2048  # DINO head MLP width
  c.method.head_bottleneck_dim = 256
  c.method.head_layers = 3  # DINO head Linear layers before the last
  c.method.norm_last_layer = True  # DINO: weight-norm gain fixed at 1
  c.method.freeze_last_layer_steps = 0  # DINO last layer / SwAV prototypes
  # DINO temperatures and centring.
  c.method.student_temp = 0.1
  c.method.teacher_temp = 0.04  # linear warm-up from this ...
  c.method.teacher_temp_end = 0.07  # ... to this, then constant
  c.method.teacher_temp_warmup_steps = 0
  c.method.center_momentum = 0.9
  # SwAV: Sinkhorn-Knopp and the optional feature queue.
  c.method.sinkhorn_iters = 3
  c.method.sinkhorn_epsilon = 0.05
  c.method.queue_size = 0  # 0: no queue
  c.method.queue_start_steps = 0  # use the queue from this step on
  # SimSiam: predictor at the constant peak lr (official --fix-pred-lr).
  c.method.fixed_predictor_lr = False
  # MoCo v3, ViTs: frozen random patch projection (--stop-grad-conv1).
  c.method.freeze_patch_embed = False
  # Barlow Twins.
  c.method.barlow_lambda = 5e-3  # off-diagonal weight
  c.method.barlow_scale = 1.0  # overall loss scale (solo-learn: 0.1)
  # VICReg coefficients.
  c.method.vicreg_sim = 25.0
  c.method.vicreg_std = 25.0
  c.method.vicreg_cov = 1.0
  # MAE.
  c.method.mask_ratio = 0.75
  c.method.norm_pix_loss = True
  c.method.decoder_dim = 512
  c.method.decoder_depth = 8
  c.method.decoder_heads = 16

  c.optim = ConfigDict()
  c.optim.name = "lars"  # lars | adamw | sgd
  c.optim.lr = 0.3  # base learning rate, scaled per lr_scaling
  c.optim.lr_scaling = "linear"  # linear: lr * batch_size / 256 | none
  c.optim.warmup_steps = 10
  c.optim.end_lr_ratio = 0.0  # cosine decays to lr * end_lr_ratio
  c.optim.weight_decay = 1e-6
  c.optim.momentum = 0.9  # lars, sgd
  c.optim.b1 = 0.9  # adamw
  c.optim.b2 = 0.999  # adamw
  c.optim.lars_trust = 1e-3  # lars trust coefficient
  c.optim.clip_grad_norm = 0.0  # 0 disables clipping

  c.train = ConfigDict()
  c.train.batch_size = 256  # global batch over all hosts and devices
  c.train.total_steps = 1000
  c.train.log_every_steps = 20
  c.train.eval_every_steps = 0  # 0: evaluate only at the end
  c.train.ckpt_every_steps = 200
  c.train.max_to_keep = 2
  c.train.progress_bar = True

  c.eval = ConfigDict()
  c.eval.knn_k = 20
  c.eval.knn_temperature = 0.07
  c.eval.batch_size = 512
  c.eval.baselines = True  # also score raw pixels and random init
  c.eval.max_train_examples = 0  # 0: use the whole memory bank split
  # Offline linear probe (jaxssl.evals.linear) on the same frozen features:
  # L-BFGS logistic regression, L2 chosen on 10% of the train split.
  c.eval.linear_probe = True
  c.eval.linear_steps = 100
  c.eval.num_figures = 8  # eval images given to Method.figures

  c.mesh = ConfigDict()
  c.mesh.data = -1  # -1: every device not used by model
  c.mesh.model = 1
  return c


def parse_arg(arg: str | None, **defaults: Any) -> ConfigDict:
  """Parses `a=1,b=x,flag` into a ConfigDict of typed values.

  Types follow the defaults: a default bool makes `smoke` mean True. Unknown
  names raise, listing the valid ones.

  Example:
    >>> parse_arg("model=vit_s16,smoke", model="tiny", smoke=False).smoke
    True
  """
  out = ConfigDict(dict(defaults))
  if not arg:
    return out
  for item in arg.split(","):
    item = item.strip()
    if not item:
      continue
    key, eq, value = item.partition("=")
    if key not in defaults:
      raise ValueError(f"config arg {key!r} is not one of {sorted(defaults)}")
    default = defaults[key]
    if isinstance(default, bool):
      out[key] = True if not eq else value.lower() in ("1", "true", "yes")
    elif not eq:
      raise ValueError(f"config arg {key!r} needs a value: {key}=...")
    elif default is None:
      out[key] = value
    else:
      out[key] = type(default)(value)
  return out


def make_smoke(
  config: ConfigDict, *, image_size: int | None = None
) -> ConfigDict:
  """Shrinks a config in place to a seconds-long CPU run.

  Like big_vision's `runlocal`.

  Args:
    config: the config to shrink.
    image_size: if given, the largest side of the evaluation images and of
      every view group (ImageNet configs: 64 instead of 224).
  """
  config.model.proj_hidden_dim = min(config.model.proj_hidden_dim, 64)
  config.model.proj_dim = min(config.model.proj_dim, 32)
  config.model.pred_hidden_dim = min(config.model.pred_hidden_dim, 32)
  m = config.method
  m.num_prototypes = min(m.num_prototypes, 64)
  m.head_hidden_dim = min(m.head_hidden_dim, 64)
  m.head_bottleneck_dim = min(m.head_bottleneck_dim, 32)
  m.queue_size = min(m.queue_size, 32)
  m.decoder_dim = min(m.decoder_dim, 32)
  m.decoder_depth = min(m.decoder_depth, 1)
  m.decoder_heads = min(m.decoder_heads, 2)
  config.train.batch_size = 16
  config.train.total_steps = 3
  config.train.log_every_steps = 1
  config.train.ckpt_every_steps = 2
  config.train.eval_every_steps = 0
  config.eval.batch_size = 64
  config.eval.max_train_examples = 256
  config.eval.baselines = False
  config.eval.linear_steps = min(config.eval.linear_steps, 20)
  config.optim.warmup_steps = 1
  if image_size is not None:
    config.data.image_size = min(config.data.image_size, image_size)
    for group in config.data.views.values():
      group.size = min(group.size, image_size)
  return config


def load(path: str, arg: str | None = None) -> ConfigDict:
  """Loads `get_config(arg)` from a config file, e.g. for notebooks.

  `load("configs/quickstart.py", "smoke")` is what
  `--config configs/quickstart.py:smoke` gives on the command line.
  """
  if ":" in os.path.basename(path) and arg is None:
    path, _, arg = path.rpartition(":")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"config file not found: {path}")
  spec = importlib.util.spec_from_file_location("_jaxssl_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(arg) if arg is not None else module.get_config()
  validate(config)
  return config


def _check_keys(config: ConfigDict, ref: ConfigDict, prefix: str) -> None:
  for key in config:
    name = f"{prefix}{key}"
    if key not in ref:
      raise ValueError(
        f"unknown config key {name!r}; valid keys in "
        f"{prefix.rstrip('.') or 'config'}: {sorted(ref.keys())}"
      )
    if isinstance(ref[key], ConfigDict) and name != "data.views":
      if not isinstance(config[key], ConfigDict):
        raise ValueError(
          f"config key {name!r} must be a section, got {config[key]!r}"
        )
      _check_keys(config[key], ref[key], name + ".")


def _fail(key: str, value: Any, why: str) -> None:
  raise ValueError(f"config.{key}={value!r}: {why}")


def validate(config: ConfigDict) -> ConfigDict:
  """Checks keys and values; raises ValueError naming the first bad key."""
  _check_keys(config, base_config(), "")
  ref_view = view_group()
  if not len(config.data.views):
    _fail("data.views", {}, "needs at least one view group")
  for group_name, group in config.data.views.items():
    if not group_name.isidentifier() or keyword.iskeyword(group_name):
      # `--config.data.views.global.size=...` is parsed as Python: a keyword
      # or a non-identifier there is a syntax error for the user.
      _fail(
        f"data.views.{group_name}",
        group_name,
        "view-group names must be Python identifiers and not keywords "
        "(else --config.data.views.<name>.* cannot be overridden), e.g. "
        "'global_crops'",
      )
    _check_keys(group, ref_view, f"data.views.{group_name}.")
    prefix = f"data.views.{group_name}"
    if group.num_views < 1:
      _fail(f"{prefix}.num_views", group.num_views, "must be >= 1")
    if group.size < 1:
      _fail(f"{prefix}.size", group.size, "must be >= 1")
    lo, hi = group.crop_scale
    if not 0 < lo <= hi <= 1:
      _fail(
        f"{prefix}.crop_scale", group.crop_scale, "needs 0 < min <= max <= 1"
      )
    for key in _PROB_KEYS:
      probs = group[key]
      probs = tuple(probs) if isinstance(probs, (tuple, list)) else (probs,)
      if len(probs) not in (1, group.num_views):
        _fail(
          f"{prefix}.{key}",
          group[key],
          f"give one probability or {group.num_views} (one per view)",
        )
      if any(not 0 <= p <= 1 for p in probs):
        _fail(f"{prefix}.{key}", group[key], "probabilities are in [0, 1]")
  t = config.train
  for key in ("batch_size", "total_steps", "log_every_steps"):
    if t[key] < 1:
      _fail(f"train.{key}", t[key], "must be >= 1")
  for key in ("eval_every_steps", "ckpt_every_steps"):
    if t[key] < 0:
      _fail(f"train.{key}", t[key], "must be >= 0 (0 disables)")
  if t.max_to_keep < 1:
    _fail("train.max_to_keep", t.max_to_keep, "must be >= 1")
  if config.model.vit_pool not in ("cls", "mean"):
    _fail("model.vit_pool", config.model.vit_pool, "must be 'cls' or 'mean'")
  o = config.optim
  if o.name not in ("lars", "adamw", "sgd"):
    _fail("optim.name", o.name, "must be one of lars, adamw, sgd")
  if o.lr_scaling not in ("linear", "none"):
    _fail("optim.lr_scaling", o.lr_scaling, "must be 'linear' or 'none'")
  if o.lr <= 0:
    _fail("optim.lr", o.lr, "must be > 0")
  if o.warmup_steps < 0 or o.warmup_steps > t.total_steps:
    _fail(
      "optim.warmup_steps",
      o.warmup_steps,
      f"must be in [0, train.total_steps={t.total_steps}]",
    )
  if config.method.temperature <= 0:
    _fail("method.temperature", config.method.temperature, "must be > 0")
  if config.mesh.model < 1:
    _fail("mesh.model", config.mesh.model, "must be >= 1")
  if config.mesh.data == 0 or config.mesh.data < -1:
    _fail("mesh.data", config.mesh.data, "must be -1 (all devices) or >= 1")
  if len(config.data.mean) != 3 or len(config.data.std) != 3:
    _fail(
      "data.mean/std",
      (config.data.mean, config.data.std),
      "need 3 values (RGB)",
    )
  # Names of models, methods and datasets are checked where they are looked
  # up (jaxssl.models, jaxssl.methods, jaxssl.data), which list valid choices.
  return config
