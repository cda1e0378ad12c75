r"""SimSiam, CIFAR-10, ResNet-18: solo-learn's published recipe.

Command:
  python -m jaxssl.main --config configs/simsiam_cifar10.py \
      --config.data.data_dir=~/tensorflow_datasets --workdir /tmp/simsiam-c10

Hyper-parameters: solo-learn `scripts/pretrain/cifar/simsiam.yaml` with
`augmentations/symmetric_weak.yaml`: ResNet-18 (CIFAR stem), projector
3 x Linear(2048) with BN after each (affine-free on the output), predictor
Linear(512)-BN-ReLU-Linear(2048), SGD momentum 0.9, lr 0.5 x B/256, weight
decay 1e-5, batch 256, 10 warm-up epochs then cosine, 1000 epochs; random
resized crop (0.08, 1), colour jitter (0.4, 0.4, 0.4, 0.1) p=0.8, grayscale
p=0.2, Gaussian blur p=0.5, flip p=0.5; the predictor's lr constant at the
peak 0.5 (solo-learn's `static_lr`: `method.fixed_predictor_lr`).
Expected: ~90.5% linear top-1 (solo-learn's table: 90.51); needs the TFDS
`cifar10` data (`tfds build cifar10`).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config()
  steps_per_epoch = recipes.cifar10_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.views = {
    "views": configs_lib.view_group(
      num_views=2,
      size=32,
      crop_scale=(0.08, 1.0),
      brightness=0.4,
      contrast=0.4,
      saturation=0.4,
      hue=0.1,
      jitter_prob=0.8,
      gray_prob=0.2,
      blur_prob=0.5,
      solarize_prob=0.0,
      flip_prob=0.5,
    )
  }
  config.model.name = "resnet18_cifar"
  config.model.proj_layers = 3
  config.model.proj_hidden_dim = 2048
  config.model.proj_dim = 2048
  config.model.proj_last_bn = True
  config.model.pred_hidden_dim = 512
  config.model.pred_last_bn = False
  config.method.name = "simsiam"
  config.method.fixed_predictor_lr = True
  config.optim.name = "sgd"
  config.optim.lr = 0.5
  config.optim.lr_scaling = "linear"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 1e-5
  config.optim.warmup_steps = 10 * steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
