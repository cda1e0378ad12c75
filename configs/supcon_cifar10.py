r"""SupCon, CIFAR-10, ResNet-18: solo-learn's published recipe (supervised).

Command:
  python -m jaxssl.main --config configs/supcon_cifar10.py \
      --config.data.data_dir=~/tensorflow_datasets --workdir /tmp/supcon-c10

Hyper-parameters: solo-learn `scripts/pretrain/cifar/supcon.yaml` with its
`augmentations/symmetric.yaml` (SGD, momentum 0.9, lr 0.4 x B/256, weight
decay 1e-5, temperature 0.2, projector 2048-256, batch 256, 1000 epochs with
10 warm-up epochs and cosine decay; crops (0.08, 1), colour jitter (0.8,
0.8, 0.8, 0.2) p=0.8, grayscale p=0.2, blur p=0.5, flip). Positives come
from the CIFAR labels: this is the supervised upper baseline of the table.
Expected: ~93.8% linear top-1 (solo-learn's CIFAR-10 table, SupCon). The
projector is `solo/methods/supcon.py`'s Linear-ReLU-Linear, no BatchNorm
(`model.proj_bn=False`), and each view goes through the network in its own
call, as solo-learn's `BaseMethod.training_step` (`method.bn_per_view=True`;
the official SupContrast code and jaxssl's default put both in one call).
Needs the TFDS `cifar10` data (`tfds build cifar10`); roughly a day on one
TPU v3-8 (as SimCLR's config).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config("supcon")
  steps_per_epoch = recipes.cifar10_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.views = {"views": recipes.simclr_views(size=32)}
  config.model.name = "resnet18_cifar"
  config.model.proj_layers = 2
  config.model.proj_hidden_dim = 2048
  config.model.proj_dim = 256
  config.model.proj_bn = False  # solo-learn: Linear-ReLU-Linear
  config.method.temperature = 0.2
  config.method.bn_per_view = True  # solo-learn: one forward per crop
  config.optim.name = "sgd"
  config.optim.lr = 0.4
  config.optim.lr_scaling = "linear"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 1e-5
  config.optim.warmup_steps = 10 * steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
