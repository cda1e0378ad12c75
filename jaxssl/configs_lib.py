"""The base config (every shared key and its default), parsing, loading, checks.

`base_config(method, data_kind=...)` holds the keys every run shares
(`seed`, `data.{kind, name, data_dir, splits, shuffle_buffer}`, `model`,
`optim`, `train`, `eval`, `mesh`) and merges the sections that plug-ins own:
`config.method` from the method's `MethodDef.config` (`jaxssl.methods`),
the kind's keys of `config.data` from `DataKind.config`
(`jaxssl.data.kinds`). Every experiment config in `configs/` starts from
`base_config("<method>")` (so that command-line overrides
`--config.method.<key>=...` find the method's keys) and changes values; it
may add view groups under `data.views` (built with `view_group()`, or from
a published recipe in `jaxssl.recipes`) but no other key. `validate()`
rejects unknown keys and bad values with a message naming the key, before
anything expensive starts.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import ml_collections

from jaxssl import config_paths, methods
from jaxssl.data import kinds
from jaxssl.data.kinds.views import view_group

ConfigDict = ml_collections.ConfigDict

__all__ = [
  "ConfigDict",
  "base_config",
  "load",
  "make_smoke",
  "parse_arg",
  "validate",
  "view_group",
]


def base_config(
  method: str = "simclr", *, data_kind: str | None = None
) -> ConfigDict:
  """Every config key of `method` on `data_kind`, with its default.

  Library code reads only these keys.

  Args:
    method: a `jaxssl.methods.METHODS` name; its `config.method` section.
    data_kind: a `jaxssl.data.kinds.KINDS` name; default: the method's
      first data kind.

  Raises:
    ValueError: unknown method or kind, or a kind the method cannot read.
  """
  spec = methods.get(method)
  data_kind = data_kind or spec.data_kinds[0]
  kind = kinds.get(data_kind)
  if data_kind not in spec.data_kinds:
    raise ValueError(
      f"config.data.kind={data_kind!r}: method {method!r} reads "
      f"{list(spec.data_kinds)}"
    )
  c = ConfigDict()
  c.seed = 0

  c.data = ConfigDict()
  c.data.kind = data_kind  # see jaxssl.data.kinds.KINDS
  # "embedded_digits" (ships with the package), "image_folder" (data_dir is a
  # folder of class sub-folders), "arrays" (data_dir holds IDX / .npy / .npz
  # files), "fashion_mnist" (apt-get install dataset-fashion-mnist, or TFDS),
  # or any TFDS name with image/label features (jaxssl.data.sources).
  c.data.name = "embedded_digits"
  # TFDS data_dir, the image folder's root, or the arrays' folder / .npz
  c.data.data_dir = ""
  c.data.train_split = "train"  # split the method trains on
  c.data.eval_split = "test"  # split the evaluation protocols score on
  c.data.shuffle_buffer = 10_000
  c.data.update(kind.config())

  c.model = ConfigDict()
  # See jaxssl.models.BACKBONES for names.
  c.model.name = "tiny_resnet"
  c.model.patch_size = 16  # ViTs only
  c.model.vit_pool = "cls"  # ViT features: "cls" token or "mean" pooled
  c.model.proj_hidden_dim = 2048
  c.model.proj_dim = 128
  c.model.proj_layers = 2  # linear layers in the projection MLP
  c.model.proj_bn = True  # BN after the projector's hidden layers
  c.model.proj_last_bn = False  # affine-free BN on the projector output
  c.model.pred_hidden_dim = 512  # predictor MLP (BYOL, SimSiam, MoCo v3)
  c.model.pred_last_bn = False  # affine-free BN on the predictor output
  # Rematerialise each residual / Transformer block in the backward pass
  # (nn.remat): less activation memory for more compute; same numerics.
  c.model.remat = False
  # Compute dtype of the ResNet convolutions and the projector / predictor
  # Linear layers: "float32", or "bfloat16" for mixed precision (bf16
  # operands with float32 accumulation; parameters, BatchNorm, residual
  # adds and the loss stay float32). Not implemented for ViTs / text models.
  c.model.dtype = "float32"
  # ResNet convolutions: "xla" (lax.conv), "matmul" (im2col + matmul) or
  # "auto" (matmul for outputs of <= 16x16 pixels); see jaxssl.models.conv.
  c.model.conv_impl = "xla"
  # ResNets: True starts each residual block's last BatchNorm scale at 0
  # (each block starts as its shortcut; Goyal et al.); False (torchvision's
  # default, as in lightly and solo-learn) at 1. With True the network at
  # init is its stem and 1x1 projections only (jaxssl.models.resnet.ResNet).
  c.model.zero_init_residual = False

  c.method = ConfigDict({"name": method, **spec.config()})

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
  c.optim.eps = 1e-8  # adamw: added to the denominator (CLIP: 1e-6), > 0
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
  # A step whose loss, gradient norm or updated parameter norm is not
  # finite: "stop" ends the run naming the step and its non-finite metrics
  # (no checkpoint of that state is written); "skip" leaves params,
  # optimizer state and extra unchanged and goes on, counting the skipped
  # steps in train/skipped_steps.
  c.train.nan_policy = "stop"
  # Gradient accumulation: k micro-batches of batch_size / k per optimizer
  # step (one scan in the jitted step); the optimizer, EMA teachers, centres
  # and schedules move once per optimizer step. Methods whose loss needs the
  # whole batch (contrastive negatives, Barlow / VICReg statistics, Sinkhorn)
  # refuse k > 1.
  c.train.accumulate_steps = 1
  # Online linear probe (jaxssl.methods.online_probe): a linear classifier
  # trained on stop-gradient features of each training batch, reported as
  # train/online_probe_top1; no effect on the SSL gradients. Needs labels.
  c.train.online_probe = False
  # Start a fresh run (never a resumed one: its checkpoint wins) from the
  # params / extra of a finished jaxssl run (`jaxssl.train.init_from`):
  # its workdir ("" disables), a checkpointed step (-1: the newest), and
  # comma-separated "new=loaded" subtree paths, "/"-separated and rooted at
  # "params" or "extra", e.g. LiT from SimCLR: "params/image=params/backbone,
  # extra/batch_stats=extra/batch_stats/backbone".
  c.train.init_from = ""
  c.train.init_from_step = -1
  c.train.init_from_map = ""

  c.eval = ConfigDict()
  c.eval.knn_k = 20
  c.eval.knn_temperature = 0.07
  c.eval.batch_size = 512
  c.eval.baselines = True  # also score raw pixels and random init
  c.eval.max_train_examples = 0  # 0: use the whole memory bank split
  # The bank of the final evaluation (and of the baselines): -1 as
  # max_train_examples, 0 the whole split (ImageNet recipes: a 100k bank
  # during training, the papers' whole-split bank at the end).
  c.eval.final_max_train_examples = -1
  # Offline linear probe (jaxssl.evals.linear) on the same frozen features:
  # L-BFGS logistic regression, L2 chosen on 10% of the train split.
  c.eval.linear_probe = True
  c.eval.linear_steps = 100
  c.eval.num_figures = 8  # eval images given to Method.figures
  # End-of-run figures (jaxssl.train.figures): learning curves, t-SNE of
  # the eval features, training views, image-text retrievals.
  c.eval.figures = True
  c.eval.tsne_examples = 1000  # eval examples in the t-SNE (0: no t-SNE)
  # Protocols (jaxssl.evals.PROTOCOLS) to run; () runs every protocol the
  # method declares (Method.protocols) but jaxssl.evals.ON_REQUEST
  # ("fewshot", "diagnostics"), which run only when named here.
  c.eval.protocols = ()
  # Protocol zeroshot: the prompt set ("digits", "clip_imagenet",
  # "clip_imagenet_7", "simple") or templates with one "{}" each; (): the
  # data source's default (jaxssl.evals.zeroshot).
  c.eval.zeroshot_templates = ()
  # PCA baseline: kNN and linear probe on the top principal components of
  # the raw pixels, fitted on the train split.
  c.eval.pca_components = 64
  # Text protocols (jaxssl.evals.language, jaxssl.evals.sentence):
  c.eval.num_samples = 3  # next_token: prompts continued (0: none)
  c.eval.sample_tokens = 32  # next_token: tokens drawn per continuation
  c.eval.sample_temperature = 1.0  # next_token: 0 samples greedily
  c.eval.min_paragraph_words = 8  # sentence: shorter paragraphs skipped
  # Protocol finetune (jaxssl.evals.finetune; opt-in via eval.protocols):
  # backbone + linear head fine-tuned on class-balanced label fractions.
  c.eval.finetune_fractions = (0.01, 0.1, 1.0)
  c.eval.finetune_steps = 300
  c.eval.finetune_batch_size = 64
  c.eval.finetune_lr = 0.01
  c.eval.finetune_optimizer = "sgd"  # sgd (Nesterov 0.9) or adamw; cosine
  # Measured in this 300-step budget on Fashion-MNIST (jaxssl.evals.finetune
  # has the numbers): the LP-FT start, a gradient clip, a warm-up and no
  # augmentation, for the tiny ResNet and the ViT alike.
  c.eval.finetune_warmup_steps = 30  # linear warm-up, then the cosine
  # The head starts as the linear probe on the subset's frozen features
  # ("probe", LP-FT) or at zero ("zeros", SimCLRv2's start).
  c.eval.finetune_head = "probe"
  # The head reads the features standardised by the subset's frozen-feature
  # mean / std, fixed while fine-tuning (folded back into the head).
  c.eval.finetune_standardize = False
  # Random crop (reflect-pad h/8) + flip of the training images; off by
  # default: in a budget this short the shifted views cost more than they
  # teach (MAE's ViT/8, 100% of Fashion-MNIST: 68.4% with, 80.1% without).
  c.eval.finetune_augment = False
  c.eval.finetune_backbone_lr_scale = 1.0  # the backbone's lr / the head's
  # Each step's gradient (backbone and head) clipped to this global norm
  # (0: off); what keeps the probe start from diverging on a ResNet.
  c.eval.finetune_clip_norm = 1.0
  c.eval.finetune_seed = 0
  # Protocol linear_sgd (jaxssl.evals.linear_sgd; opt-in via eval.protocols):
  # the papers' linear evaluation, a head trained by SGD on the frozen
  # backbone's features of augmented training images. The ImageNet configs
  # set each paper's values.
  c.eval.linear_sgd_epochs = 90.0  # over data.train_split
  c.eval.linear_sgd_steps = 0  # > 0: this many steps instead of the epochs
  c.eval.linear_sgd_batch_size = 256
  c.eval.linear_sgd_lr = 0.1  # per 256 images: peak lr = this x batch / 256
  c.eval.linear_sgd_optimizer = "sgd"  # sgd or lars (momentum 0.9), cosine
  c.eval.linear_sgd_nesterov = True
  c.eval.linear_sgd_weight_decay = 0.0
  # random_resized_crop (host, scale linear_sgd_crop_scale, ratio 3/4-4/3)
  # or pad_crop (reflect-pad h/8 and crop back, in JAX); both flip p=0.5.
  c.eval.linear_sgd_augment = "random_resized_crop"
  c.eval.linear_sgd_crop_scale = (0.08, 1.0)
  c.eval.linear_sgd_seed = 0

  c.mesh = ConfigDict()
  c.mesh.data = -1  # -1: every device not used by model
  c.mesh.model = 1
  # How the train state lies on the mesh (jaxssl.train.sharding); safe to
  # change on resume, as the rest of `mesh`.
  # FSDP: parameters, optimizer state and extra state of at least
  # fsdp_min_size elements split over "data" on their largest divisible dim.
  c.mesh.fsdp = False
  c.mesh.fsdp_min_size = 2**16  # elements (256 KiB of float32)
  # The "model" axis: "megatron" splits the Transformer blocks' qkv /
  # mlp_fc1 kernels by column and proj / mlp_fc2 by row; "none".
  c.mesh.model_rules = "megatron"
  # (regex on the leaf path, PartitionSpec tuple) pairs tried before the
  # preset, e.g. (("mlp_fc1/kernel$", (None, "model")),).
  c.mesh.rules = ()
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

  The method shrinks its own keys (`MethodDef.smoke`), the data kind its
  own (`DataKind.smoke`).
  """
  config.model.proj_hidden_dim = min(config.model.proj_hidden_dim, 64)
  config.model.proj_dim = min(config.model.proj_dim, 32)
  config.model.pred_hidden_dim = min(config.model.pred_hidden_dim, 32)
  methods.get(config.method.name).smoke(config.method)
  config.train.batch_size = 16
  config.train.total_steps = 3
  config.train.log_every_steps = 1
  config.train.ckpt_every_steps = 2
  config.train.eval_every_steps = 0
  config.eval.batch_size = 64
  config.eval.max_train_examples = 256
  config.eval.baselines = False
  config.eval.figures = False  # seconds of t-SNE; tests turn it on
  config.eval.linear_steps = min(config.eval.linear_steps, 20)
  config.eval.finetune_steps = min(config.eval.finetune_steps, 3)
  config.eval.linear_sgd_steps = min(config.eval.linear_sgd_steps or 3, 3)
  config.eval.linear_sgd_batch_size = min(config.eval.linear_sgd_batch_size, 64)
  config.optim.warmup_steps = 1
  kinds.get(config.data.kind).smoke(config, image_size)
  return config


def load(path: str, arg: str | None = None) -> ConfigDict:
  """Loads `get_config(arg)` from a config file, e.g. for notebooks.

  `load("configs/quickstart.py", "smoke")` is what
  `--config configs/quickstart.py:smoke` gives on the command line. A path
  that is not a file but names a shipped config (`load("quickstart")`)
  loads the shipped copy (`jaxssl.config_paths.resolve`).
  """
  path = config_paths.resolve(path)
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
      owner = ""
      if name.startswith("method."):
        owner = f" of method {ref.name!r}"
      elif prefix == "data.":
        owner = f" with data kind {ref.kind!r}"
      raise ValueError(
        f"unknown config key {name!r}{owner}; valid keys in "
        f"{prefix.rstrip('.') or 'config'}: {sorted(ref.keys())}"
      )
    if isinstance(ref[key], ConfigDict) and name != "data.views":
      if not isinstance(config[key], ConfigDict):
        raise ValueError(
          f"config key {name!r} must be a section, got {config[key]!r}"
        )
      _check_keys(config[key], ref[key], name + ".")


def _fill_missing(config: ConfigDict, ref: ConfigDict) -> None:
  """Adds the keys of `ref` that `config` lacks (a plug-in's defaults).

  A config that switched `method.name` or `data.kind` after `base_config()`
  gets the new plug-in's defaults for the keys it did not set.
  """
  with config.unlocked():
    for key in ref:
      if key not in config:
        config[key] = ref[key]
      elif (
        isinstance(ref[key], ConfigDict)
        and isinstance(config[key], ConfigDict)
        and key != "views"
      ):  # view groups are the config's own
        _fill_missing(config[key], ref[key])


def _fail(key: str, value: Any, why: str) -> None:
  raise ValueError(f"config.{key}={value!r}: {why}")


def _check_linear_sgd(e) -> None:
  if not e.linear_sgd_epochs > 0:
    _fail("eval.linear_sgd_epochs", e.linear_sgd_epochs, "must be > 0")
  if e.linear_sgd_steps < 0:
    _fail(
      "eval.linear_sgd_steps",
      e.linear_sgd_steps,
      "must be >= 0 (0: from eval.linear_sgd_epochs)",
    )
  if e.linear_sgd_batch_size < 1:
    _fail("eval.linear_sgd_batch_size", e.linear_sgd_batch_size, "must be >= 1")
  if not e.linear_sgd_lr > 0:
    _fail("eval.linear_sgd_lr", e.linear_sgd_lr, "must be > 0 (per 256)")
  if e.linear_sgd_optimizer not in ("sgd", "lars"):
    _fail("eval.linear_sgd_optimizer", e.linear_sgd_optimizer, "sgd or lars")
  if not e.linear_sgd_weight_decay >= 0:
    _fail(
      "eval.linear_sgd_weight_decay", e.linear_sgd_weight_decay, "must be >= 0"
    )
  if e.linear_sgd_augment not in ("random_resized_crop", "pad_crop"):
    _fail(
      "eval.linear_sgd_augment",
      e.linear_sgd_augment,
      "random_resized_crop or pad_crop",
    )
  scale = tuple(e.linear_sgd_crop_scale)
  if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
    _fail("eval.linear_sgd_crop_scale", scale, "needs 0 < min <= max <= 1")


def validate(config: ConfigDict) -> ConfigDict:
  """Checks keys and values; raises ValueError naming the first bad key.

  The reference is `base_config(config.method.name, data_kind=
  config.data.kind)`: keys it has that `config` lacks are added with their
  defaults, keys it does not have are errors. Then the data kind and the
  method check their own keys.
  """
  for section in ("method", "data"):
    if not isinstance(config.get(section), ConfigDict):
      _fail(section, config.get(section), "must be a section")
  name = config.method.get("name", "simclr")
  kind = config.data.get("kind", methods.get(name).data_kinds[0])
  ref = base_config(name, data_kind=kind)
  _fill_missing(config, ref)
  _check_keys(config, ref, "")
  kinds.get(kind).validate(config)
  methods.get(name).check(config)
  t = config.train
  for key in ("batch_size", "total_steps", "log_every_steps"):
    if t[key] < 1:
      _fail(f"train.{key}", t[key], "must be >= 1")
  for key in ("eval_every_steps", "ckpt_every_steps"):
    if t[key] < 0:
      _fail(f"train.{key}", t[key], "must be >= 0 (0 disables)")
  if t.accumulate_steps < 1:
    _fail("train.accumulate_steps", t.accumulate_steps, "must be >= 1")
  if t.max_to_keep < 1:
    _fail("train.max_to_keep", t.max_to_keep, "must be >= 1")
  if t.nan_policy not in ("stop", "skip"):
    _fail("train.nan_policy", t.nan_policy, "must be 'stop' or 'skip'")
  if config.model.vit_pool not in ("cls", "mean"):
    _fail("model.vit_pool", config.model.vit_pool, "must be 'cls' or 'mean'")
  if config.model.dtype not in ("float32", "bfloat16"):
    _fail("model.dtype", config.model.dtype, "must be 'float32' or 'bfloat16'")
  if config.model.conv_impl not in ("xla", "matmul", "auto"):
    _fail(
      "model.conv_impl",
      config.model.conv_impl,
      "must be one of xla, matmul, auto",
    )
  o = config.optim
  if o.name not in ("lars", "adamw", "sgd"):
    _fail("optim.name", o.name, "must be one of lars, adamw, sgd")
  if o.lr_scaling not in ("linear", "none"):
    _fail("optim.lr_scaling", o.lr_scaling, "must be 'linear' or 'none'")
  if o.lr <= 0:
    _fail("optim.lr", o.lr, "must be > 0")
  if not o.weight_decay >= 0:
    _fail("optim.weight_decay", o.weight_decay, "must be >= 0")
  if o.warmup_steps < 0 or o.warmup_steps > t.total_steps:
    _fail(
      "optim.warmup_steps",
      o.warmup_steps,
      f"must be in [0, train.total_steps={t.total_steps}]",
    )
  if config.mesh.model < 1:
    _fail("mesh.model", config.mesh.model, "must be >= 1")
  if config.mesh.data == 0 or config.mesh.data < -1:
    _fail("mesh.data", config.mesh.data, "must be -1 (all devices) or >= 1")
  if config.mesh.fsdp_min_size < 0:
    _fail(
      "mesh.fsdp_min_size", config.mesh.fsdp_min_size, "must be >= 0 (elements)"
    )
  # The rules and the preset are checked against the state's paths and the
  # mesh's sizes where they are applied (jaxssl.train.sharding).
  if not config.optim.eps > 0:
    _fail("optim.eps", config.optim.eps, "must be > 0")
  e = config.eval
  if e.tsne_examples < 0:
    _fail("eval.tsne_examples", e.tsne_examples, "must be >= 0 (0: no t-SNE)")
  if e.final_max_train_examples < -1:
    _fail(
      "eval.final_max_train_examples",
      e.final_max_train_examples,
      "must be -1 (as eval.max_train_examples), 0 (all) or a count",
    )
  if e.knn_k < 1:
    _fail("eval.knn_k", e.knn_k, "must be >= 1")
  if not e.finetune_fractions or any(
    not 0 < f <= 1 for f in e.finetune_fractions
  ):
    _fail("eval.finetune_fractions", e.finetune_fractions, "each in (0, 1]")
  if e.finetune_steps < 1:
    _fail("eval.finetune_steps", e.finetune_steps, "must be >= 1")
  if e.finetune_batch_size < 1:
    _fail("eval.finetune_batch_size", e.finetune_batch_size, "must be >= 1")
  if e.finetune_lr <= 0:
    _fail("eval.finetune_lr", e.finetune_lr, "must be > 0")
  if e.finetune_optimizer not in ("sgd", "adamw"):
    _fail("eval.finetune_optimizer", e.finetune_optimizer, "sgd or adamw")
  if e.finetune_warmup_steps < 0:
    _fail("eval.finetune_warmup_steps", e.finetune_warmup_steps, "must be >= 0")
  if e.finetune_head not in ("probe", "zeros"):
    _fail("eval.finetune_head", e.finetune_head, "probe or zeros")
  if e.finetune_clip_norm < 0:
    _fail("eval.finetune_clip_norm", e.finetune_clip_norm, "must be >= 0")
  if e.finetune_backbone_lr_scale < 0:
    _fail(
      "eval.finetune_backbone_lr_scale",
      e.finetune_backbone_lr_scale,
      "must be >= 0",
    )
  _check_linear_sgd(e)
  if e.pca_components < 1:
    _fail("eval.pca_components", e.pca_components, "must be >= 1")
  if e.num_samples < 0:
    _fail("eval.num_samples", e.num_samples, "must be >= 0 (0 disables)")
  if e.sample_tokens < 1:
    _fail("eval.sample_tokens", e.sample_tokens, "must be >= 1")
  if not e.sample_temperature >= 0:
    _fail(
      "eval.sample_temperature",
      e.sample_temperature,
      "must be >= 0 (0: greedy)",
    )
  if e.min_paragraph_words < 2:
    _fail(
      "eval.min_paragraph_words",
      e.min_paragraph_words,
      "must be >= 2 (a paragraph is cut in two halves)",
    )
  # Model names and evaluation protocols are checked where they are looked
  # up (jaxssl.models, jaxssl.evals), which list the valid choices.
  return config
