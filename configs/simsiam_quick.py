r"""SimSiam on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/simsiam_quick.py --workdir /tmp/simsiam-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Measured numbers: see the README's results table (`python -m jaxssl.zoo`).

SimSiam's heads scaled down: a 3-layer projector with output BN
(`proj_last_bn`) and a bottleneck predictor (pred_hidden_dim = proj_dim / 4,
the paper's 512 / 2048 ratio). SGD as the paper (lr 0.05 x B/256 there; a
larger lr here for a few hundred steps). Augmentations are the quickstart's
colour-robust ones (hue jitter 0.5, crops of at least half the image, no
flip; see configs/quickstart.py).
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
  config.model.proj_layers = 3
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 512
  config.model.proj_last_bn = True
  config.model.pred_hidden_dim = 128
  config.model.pred_last_bn = False
  config.method.name = "simsiam"
  config.optim.name = "sgd"
  config.optim.lr = 0.1
  config.optim.momentum = 0.9
  config.optim.weight_decay = 1e-4
  config.optim.warmup_steps = 20
  config.train.batch_size = 128
  config.train.total_steps = 500
  config.train.log_every_steps = 10
  config.train.ckpt_every_steps = 100
  config.train.eval_every_steps = 0
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
