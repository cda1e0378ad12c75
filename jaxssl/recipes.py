"""Published recipes shared by the configs: augmentations and run lengths.

The augmentation recipes return `configs_lib.view_group()`s with a paper's
or a codebase's values (`byol_views()`, `simclr_views()`, and the quick
configs' `embedded_views()`); `cifar10_run()`, `imagenet_run()` and
`embedded_run()` set the data and run-length keys that every config of one
dataset shares, and `linear_sgd_protocol()` a paper's linear evaluation.
Each config keeps its own method and optimizer values in view; only what is
truly common lives here.
"""

from __future__ import annotations

from typing import Any

from jaxssl import configs_lib

ConfigDict = configs_lib.ConfigDict


def byol_views(*, size: int, **overrides: Any) -> ConfigDict:
  """BYOL's asymmetric augmentations (arXiv:2006.07733, Table 6).

  Two views: random resized crop (0.08, 1), flip 0.5, colour jitter (0.4,
  0.4, 0.2, 0.1) with p=0.8, grayscale p=0.2, Gaussian blur p=1.0 / 0.1 and
  solarisation p=0.0 / 0.2 (first / second view). solo-learn's CIFAR recipes
  (`augmentations/asymmetric.yaml`) are these with `blur_prob=0.0`.

  Args:
    size: output side in pixels.
    **overrides: `view_group` keys to change.
  """
  recipe = dict(
    num_views=2,
    size=size,
    crop_scale=(0.08, 1.0),
    brightness=0.4,
    contrast=0.4,
    saturation=0.2,
    hue=0.1,
    jitter_prob=0.8,
    gray_prob=0.2,
    blur_prob=(1.0, 0.1),
    solarize_prob=(0.0, 0.2),
    flip_prob=0.5,
  )
  return configs_lib.view_group(**{**recipe, **overrides})


def simclr_views(*, size: int, **overrides: Any) -> ConfigDict:
  """SimCLR's augmentations at colour strength 1 (arXiv:2002.05709, App. A).

  Two views: random resized crop (0.08, 1), flip 0.5, colour jitter (0.8,
  0.8, 0.8, 0.2) with p=0.8, grayscale p=0.2, Gaussian blur p=0.5, no
  solarisation (solo-learn's `augmentations/symmetric.yaml`).

  Args:
    size: output side in pixels.
    **overrides: `view_group` keys to change.
  """
  recipe = dict(
    num_views=2,
    size=size,
    crop_scale=(0.08, 1.0),
    brightness=0.8,
    contrast=0.8,
    saturation=0.8,
    hue=0.2,
    jitter_prob=0.8,
    gray_prob=0.2,
    blur_prob=0.5,
    solarize_prob=0.0,
    flip_prob=0.5,
  )
  return configs_lib.view_group(**{**recipe, **overrides})


def embedded_views(**overrides: Any) -> ConfigDict:
  """The colour-robust views of the quick configs on the embedded digits.

  Two 32-px views: random resized crop (0.5, 1) (smaller crops cut the digit
  out), no flip (digits are not mirror symmetric), colour jitter (0.4, 0.4,
  0.4, 0.5) with p=0.8 (hue 0.5: each digit's random colour must not tell
  the images apart), grayscale p=0.2, no blur, no solarisation. See
  `configs/quickstart.py` and `jaxssl.data.embedded`.

  Args:
    **overrides: `view_group` keys to change.
  """
  recipe = dict(
    num_views=2,
    size=32,
    crop_scale=(0.5, 1.0),
    brightness=0.4,
    contrast=0.4,
    saturation=0.4,
    hue=0.5,
    jitter_prob=0.8,
    gray_prob=0.2,
    flip_prob=0.0,
    blur_prob=0.0,
    solarize_prob=0.0,
  )
  return configs_lib.view_group(**{**recipe, **overrides})


def _epochs(
  config: ConfigDict, epochs: int, batch_size: int, train_images: int
) -> int:
  steps_per_epoch = train_images // batch_size
  config.train.batch_size = batch_size
  config.train.total_steps = epochs * steps_per_epoch
  return steps_per_epoch


def cifar10_run(config: ConfigDict, *, epochs: int, batch_size: int) -> int:
  """Sets TFDS CIFAR-10 and an `epochs`-epoch run at `batch_size`, in place.

  data: `cifar10` at 32 px with its channel mean and std. train:
  `batch_size`, `total_steps`, logging every 100 steps, a checkpoint every 5
  epochs and a kNN evaluation every 50.

  Returns:
    Steps per epoch (the last partial batch dropped), to count epoch-based
    schedules such as `optim.warmup_steps` in steps.
  """
  config.data.name = "cifar10"
  config.data.image_size = 32
  config.data.mean = (0.4914, 0.4822, 0.4465)
  config.data.std = (0.2470, 0.2435, 0.2616)
  steps_per_epoch = _epochs(config, epochs, batch_size, 50_000)
  config.train.log_every_steps = 100
  config.train.ckpt_every_steps = 5 * steps_per_epoch
  config.train.eval_every_steps = 50 * steps_per_epoch
  return steps_per_epoch


def imagenet_run(
  config: ConfigDict,
  *,
  epochs: int,
  batch_size: int,
  ckpt_every_epochs: int = 2,
) -> int:
  """Sets TFDS ImageNet and an `epochs`-epoch run at `batch_size`, in place.

  data: `imagenet2012` (scored on `validation`) at 224 px with its channel
  mean and std, evaluated on the centre 224 crop of images resized to 256
  (`eval_crop_fraction` 0.875, as the papers), a 50k-example shuffle
  buffer. train: `batch_size`, `total_steps`, logging every 100 steps, a
  checkpoint every `ckpt_every_epochs` epochs, evaluation only at the end
  on a kNN bank and probe of the whole training split (100k images for any
  evaluation during training).

  Returns:
    Steps per epoch (the last partial batch dropped), to count epoch-based
    schedules such as `optim.warmup_steps` in steps.
  """
  config.data.name = "imagenet2012"
  config.data.eval_split = "validation"
  config.data.image_size = 224
  config.data.eval_crop_fraction = 0.875  # resize 256, centre crop 224
  config.data.mean = (0.485, 0.456, 0.406)
  config.data.std = (0.229, 0.224, 0.225)
  config.data.shuffle_buffer = 50_000
  steps_per_epoch = _epochs(config, epochs, batch_size, 1_281_167)
  config.train.log_every_steps = 100
  config.train.ckpt_every_steps = ckpt_every_epochs * steps_per_epoch
  config.train.eval_every_steps = 0
  config.eval.max_train_examples = 100_000  # kNN bank subset during training
  config.eval.final_max_train_examples = 0  # the whole split at the end
  return steps_per_epoch


def linear_sgd_protocol(
  config: ConfigDict,
  *,
  batch_size: int,
  lr: float,
  epochs: float,
  optimizer: str = "sgd",
  nesterov: bool = True,
  weight_decay: float = 0.0,
) -> None:
  """Sets a paper's linear evaluation (protocol `linear_sgd`), in place.

  A linear head on the frozen backbone, trained on random resized crops
  (0.08, 1) + flips of the training split and scored on the centre crops
  of the eval split (`jaxssl.evals.linear_sgd`); cosine decay, no warm-up.
  The protocol stays opt-in: `--config.eval.protocols='("representation",
  "linear_sgd")'` (or `python -m jaxssl.eval --protocol linear_sgd`).

  Args:
    config: the config to change.
    batch_size: global batch of the probe.
    lr: learning rate per 256 images (peak = lr x batch_size / 256).
    epochs: passes over the training split.
    optimizer: "sgd" (momentum 0.9) or "lars".
    nesterov: Nesterov momentum.
    weight_decay: L2 on the head's kernel.
  """
  e = config.eval
  e.linear_sgd_batch_size = batch_size
  e.linear_sgd_lr = lr
  e.linear_sgd_epochs = float(epochs)
  e.linear_sgd_steps = 0
  e.linear_sgd_optimizer = optimizer
  e.linear_sgd_nesterov = nesterov
  e.linear_sgd_weight_decay = weight_decay
  e.linear_sgd_augment = "random_resized_crop"
  e.linear_sgd_crop_scale = (0.08, 1.0)


def embedded_run(
  config: ConfigDict, *, total_steps: int, batch_size: int
) -> None:
  """Sets the embedded digits at 32 px and a CPU-minutes run, in place.

  train: `batch_size`, `total_steps`, logging every 10 steps, a checkpoint
  every 100, evaluation only at the end.
  """
  config.data.name = "embedded_digits"
  config.data.image_size = 32
  config.train.batch_size = batch_size
  config.train.total_steps = total_steps
  config.train.log_every_steps = 10
  config.train.ckpt_every_steps = 100
  config.train.eval_every_steps = 0
