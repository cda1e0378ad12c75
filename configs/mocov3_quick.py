r"""MoCo v3 on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/mocov3_quick.py \
      --workdir /tmp/mocov3-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Measured (one run, 400 steps, 2-core CPU shared with other jobs, so slow:
585 s wall, 190 images/s): kNN top-1 31.1% (linear probe 39.0%) vs random
init 10.2% (12.1%) vs raw pixels 16.0% (9.8%).

MoCo v3's ResNet heads scaled down (2-layer projector with output BN, 2-layer
predictor without) and solo-learn's CIFAR temperature 0.2. LARS peaks at lr
3.2 (6.4 x 128/256; MoCo v3's ResNet recipe peaks at 0.6 x 4096/256 = 9.6).
The momentum starts at 0.9 rather than 0.99: the key encoder lags the online
one by about 1 / (1 - m) steps, a quarter of this 400-step run at 0.99
(see configs/byol_quick.py for what that lag cost BYOL here).
Augmentations are the quickstart's colour-robust ones (hue jitter 0.5, crops
of at least half the image, no flip; see configs/quickstart.py) with MoCo
v3's (BYOL's) asymmetric solarisation (p = 0 / 0.2); blur stays off at 32
pixels as in solo-learn's CIFAR recipe.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("mocov3")
  recipes.embedded_run(config, total_steps=400, batch_size=128)
  config.data.views = {
    "views": recipes.embedded_views(solarize_prob=(0.0, 0.2))
  }
  config.model.name = "tiny_resnet"
  config.model.proj_layers = 2
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 128
  config.model.proj_last_bn = True
  config.model.pred_hidden_dim = 512
  config.model.pred_last_bn = False
  config.method.temperature = 0.2
  config.method.ema_momentum = 0.9
  config.method.ema_momentum_end = 1.0
  config.optim.name = "lars"
  config.optim.lr = 6.4
  config.optim.weight_decay = 1e-5
  config.optim.warmup_steps = 20
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
