r"""MoCo v3, CIFAR-10, ResNet-18: solo-learn's published recipe.

Command:
  python -m jaxssl.main --config configs/mocov3_cifar10.py \
      --config.data.data_dir=~/tensorflow_datasets --workdir /tmp/mocov3-c10

Hyper-parameters: solo-learn `scripts/pretrain/cifar/mocov3.yaml` with
`augmentations/asymmetric.yaml`: ResNet-18 (CIFAR stem), MoCo v3's ResNet
heads (projector Linear(4096)-BN-ReLU-Linear(256)-BN without affine,
predictor Linear(4096)-BN-ReLU-Linear(256)), temperature 0.2, momentum 0.99
rising to 1.0 on a cosine, LARS (lr 0.3 x B/256, trust coefficient eta 0.02,
biases and BN excluded), weight decay 1e-6, batch 256, 10 warm-up epochs
then cosine, 1000 epochs; random resized crop (0.08, 1), colour jitter
(0.4, 0.4, 0.2, 0.1) p=0.8, grayscale p=0.2, flip p=0.5, no blur,
solarisation p=0.0 / 0.2 (first / second view). Not reproduced: solo-learn's
LARS `clip_lr` (no config key). Expected: ~93.1% linear top-1 (solo-learn's
table: 93.10); needs the TFDS `cifar10` data (`tfds build cifar10`).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config("mocov3")
  steps_per_epoch = recipes.cifar10_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.views = {"views": recipes.byol_views(size=32, blur_prob=0.0)}
  config.model.name = "resnet18_cifar"
  config.model.proj_layers = 2
  config.model.proj_hidden_dim = 4096
  config.model.proj_dim = 256
  config.model.proj_last_bn = True
  config.model.pred_hidden_dim = 4096
  config.model.pred_last_bn = False
  config.method.temperature = 0.2
  config.method.ema_momentum = 0.99
  config.method.ema_momentum_end = 1.0
  config.optim.name = "lars"
  config.optim.lr = 0.3
  config.optim.lr_scaling = "linear"
  config.optim.weight_decay = 1e-6
  config.optim.lars_trust = 0.02
  config.optim.warmup_steps = 10 * steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
