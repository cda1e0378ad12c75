r"""DINO, CIFAR-10, ResNet-18: solo-learn's published recipe.

Command:
  python -m jaxssl.main --config configs/dino_cifar10.py \
      --config.data.data_dir=~/tensorflow_datasets --workdir /tmp/dino-c10

Hyper-parameters: solo-learn `scripts/pretrain/cifar/dino.yaml` and the
defaults of `solo/methods/dino.py`: two 32-px crops with the asymmetric
augmentations (crop area 0.08-1, colour jitter 0.4/0.4/0.2/0.1 with p=0.8,
grayscale 0.2, solarisation 0 / 0.2, no blur, flip 0.5; no local crops),
DINO head 2048-256 onto 4096 prototypes with a weight-normalised last layer
(norm_last_layer), student temperature 0.1, teacher temperature 0.07 (no
warm-up), centre momentum 0.9, teacher momentum 0.9995 -> 1 (cosine), last
layer frozen for the first epoch, no gradient clipping; LARS (eta 0.02,
biases and norms excluded), lr 0.3 x B/256, weight decay 1e-6, batch 256,
1000 epochs with 10 warm-up epochs then cosine. Expected: ~89.5% linear
top-1 (solo-learn's table: 89.52). Needs the TFDS `cifar10` data
(`tfds build cifar10`).

Differences from solo-learn: BatchNorm in the DINO head (see
`jaxssl.methods.dino.head_use_bn`; solo-learn's `use_bn_in_head` is False),
no LARC lr clipping (`clip_lr`), float32 instead of 16-bit mixed precision.
Add local crops with e.g.
  config.data.views.local_crops = configs_lib.view_group(num_views=6, size=16,
      crop_scale=(0.05, 0.4), ...)
and narrow the global crops to (0.4, 1) (DINO's multi-crop recipe).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config("dino")
  steps_per_epoch = recipes.cifar10_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.views = {
    "global_crops": recipes.byol_views(size=32, blur_prob=0.0)
  }
  config.model.name = "resnet18_cifar"
  config.method.num_prototypes = 4096
  config.method.head_hidden_dim = 2048
  config.method.head_bottleneck_dim = 256
  config.method.head_layers = 3
  config.method.norm_last_layer = True
  config.method.student_temp = 0.1
  config.method.teacher_temp = 0.07
  config.method.teacher_temp_end = 0.07
  config.method.teacher_temp_warmup_steps = 0
  config.method.center_momentum = 0.9
  config.method.ema_momentum = 0.9995
  config.method.ema_momentum_end = 1.0
  config.method.freeze_last_layer_steps = steps_per_epoch
  config.optim.name = "lars"
  config.optim.lr = 0.3
  config.optim.lars_trust = 0.02
  config.optim.weight_decay = 1e-6
  config.optim.clip_grad_norm = 0.0
  config.optim.warmup_steps = 10 * steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config)
    config.method.freeze_last_layer_steps = 1
  return config
