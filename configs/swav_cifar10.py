r"""SwAV, CIFAR-10, ResNet-18: solo-learn's published recipe.

Command:
  python -m jaxssl.main --config configs/swav_cifar10.py \
      --config.data.data_dir=~/tensorflow_datasets --workdir /tmp/swav-c10

Hyper-parameters: solo-learn `scripts/pretrain/cifar/swav.yaml` and the
defaults of `solo/methods/swav.py`: two 32-px crops with the symmetric
augmentations (crop area 0.08-1, colour jitter 0.8/0.8/0.8/0.2 with p=0.8,
grayscale 0.2, Gaussian blur 0.5, flip 0.5; no local crops), projector
2048-128, 3000 prototypes, temperature 0.1, Sinkhorn 3 iterations with
epsilon 0.05, a queue of 3840 embeddings from epoch 50, prototypes frozen
for the first 2 epochs; LARS (eta 0.02, biases and norms excluded), lr 0.6
x B/256, weight decay 1e-6, batch 256, 1000 epochs with 10 warm-up epochs
then cosine. Expected: ~89.2% linear top-1 (solo-learn's table: 89.17).
Needs the TFDS `cifar10` data (`tfds build cifar10`).

Differences from solo-learn: no LARC lr clipping (`clip_lr`), float32
instead of 16-bit mixed precision, prototypes weight-normalised with the
gain fixed at 1 (see `jaxssl.models.prototype_heads.Prototypes`).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config("swav")
  steps_per_epoch = recipes.cifar10_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.views = {"global_crops": recipes.simclr_views(size=32)}
  config.model.name = "resnet18_cifar"
  config.model.proj_hidden_dim = 2048
  config.model.proj_dim = 128
  config.model.proj_layers = 2
  config.method.num_prototypes = 3000
  config.method.temperature = 0.1
  config.method.iterations = 3
  config.method.epsilon = 0.05
  config.method.queue_size = 3840
  config.method.queue_start_steps = 50 * steps_per_epoch
  config.method.freeze_last_layer_steps = 2 * steps_per_epoch
  config.optim.name = "lars"
  config.optim.lr = 0.6
  config.optim.lars_trust = 0.02
  config.optim.weight_decay = 1e-6
  config.optim.warmup_steps = 10 * steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config)
    config.method.queue_start_steps = 2
    config.method.freeze_last_layer_steps = 1
  return config
