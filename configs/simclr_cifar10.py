r"""SimCLR, CIFAR-10, ResNet-18: solo-learn's published recipe.

Command:
  python -m jaxssl.main --config configs/simclr_cifar10.py \
      --config.data.data_dir=~/tensorflow_datasets --workdir /tmp/simclr-c10

Hyper-parameters: solo-learn `scripts/pretrain/cifar/simclr.yaml` (LARS,
lr 0.4 x B/256, trust coefficient (eta) 0.02, weight decay 1e-4,
temperature 0.2, projector 2048-256, 1000 epochs, 10 warm-up epochs, batch
256) with its `augmentations/symmetric.yaml` (SimCLR's colour strength 1:
jitter 0.8/0.8/0.8/0.2, blur p 0.5). The projector is
`solo/methods/simclr.py`'s Linear-ReLU-Linear, no BatchNorm
(`model.proj_bn=False`); the loss is `solo/losses/simclr.py`'s mean over
the 2N anchors (`method.loss_scale=1`, the default); each view goes through
the network in its own call, as solo-learn's `BaseMethod.training_step`
(`method.bn_per_view=True`: BatchNorm statistics per view; the official
SimCLR code and jaxssl's default put both views in one call). solo-learn's LARS
also clips the adaptive lr (`clip_lr`), which jaxssl's optax LARS does not.
Expected: ~90.7% linear top-1 (solo-learn's table); on one TPU v3-8,
roughly a day.
Needs the TFDS `cifar10` data (`tfds build cifar10`).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config("simclr")
  steps_per_epoch = recipes.cifar10_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.views = {"views": recipes.simclr_views(size=32)}
  config.model.name = "resnet18_cifar"
  config.model.proj_hidden_dim = 2048
  config.model.proj_dim = 256
  config.model.proj_bn = False  # solo-learn: Linear-ReLU-Linear
  config.method.temperature = 0.2
  config.method.bn_per_view = True  # solo-learn: one forward per crop
  config.optim.name = "lars"
  config.optim.lr = 0.4
  config.optim.weight_decay = 1e-4
  config.optim.lars_trust = 0.02
  config.optim.warmup_steps = 10 * steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
