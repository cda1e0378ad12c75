r"""MoCo v3 on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/mocov3_quick.py --workdir /tmp/mocov3-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Measured numbers: see the README's results table (`python -m jaxssl.zoo`).

MoCo v3's ResNet heads scaled down (2-layer projector with output BN, 2-layer
predictor without), temperature 0.2 and momentum 0.99 -> 1 as solo-learn's
CIFAR recipe. Augmentations are the quickstart's colour-robust ones (hue
jitter 0.5, crops of at least half the image, no flip; see
configs/quickstart.py) with MoCo v3's (BYOL's) asymmetric solarisation
(p = 0 / 0.2); blur stays off at 32 pixels as in solo-learn's CIFAR recipe.
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
      flip_prob=0.0, blur_prob=0.0, solarize_prob=(0.0, 0.2))}
  config.model.name = "tiny_resnet"
  config.model.proj_layers = 2
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 128
  config.model.proj_last_bn = True
  config.model.pred_hidden_dim = 512
  config.model.pred_last_bn = False
  config.method.name = "mocov3"
  config.method.temperature = 0.2
  config.method.ema_momentum = 0.99
  config.method.ema_momentum_end = 1.0
  config.optim.name = "lars"
  config.optim.lr = 1.0
  config.optim.weight_decay = 1e-5
  config.optim.warmup_steps = 20
  config.train.batch_size = 128
  config.train.total_steps = 500
  config.train.log_every_steps = 10
  config.train.ckpt_every_steps = 100
  config.train.eval_every_steps = 0
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
