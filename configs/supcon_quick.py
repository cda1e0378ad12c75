r"""SupCon on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/supcon_quick.py \
      --workdir /tmp/jaxssl-supcon-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Supervised: the positives of each view are all views with the same digit
label, so this is the upper baseline the self-supervised quick configs are
read against, not a self-supervised result.

Measured (one run, 2-core CPU shared with other jobs): MEASURED_PLACEHOLDER

Recipe: solo-learn's CIFAR SupCon optimiser (SGD, momentum 0.9, lr 0.4 x
B/256, weight decay 1e-5) with the paper's temperature 0.1, a 512-128
projector on the 128-d tiny ResNet features, batch 128. Augmentations are
the quickstart's (hue jitter 0.5, crops of at least half the image, no
flip; see configs/quickstart.py and jaxssl.data.embedded).
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config()
  config.data.name = "embedded_digits"
  config.data.image_size = 32
  config.data.views = {"views": configs_lib.view_group(
      num_views=2, size=32, crop_scale=(0.5, 1.0), brightness=0.4,
      contrast=0.4, saturation=0.4, hue=0.5, jitter_prob=0.8, gray_prob=0.2,
      flip_prob=0.0)}
  config.model.name = "tiny_resnet"
  config.model.proj_layers = 2
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 128
  config.method.name = "supcon"
  config.method.temperature = 0.1
  config.optim.name = "sgd"
  config.optim.lr = 0.4
  config.optim.momentum = 0.9
  config.optim.weight_decay = 1e-5
  config.optim.warmup_steps = 20
  config.train.batch_size = 128
  config.train.total_steps = 300
  config.train.log_every_steps = 10
  config.train.ckpt_every_steps = 100
  config.train.eval_every_steps = 0
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
