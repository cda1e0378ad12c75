r"""SimSiam on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/simsiam_quick.py \
      --workdir /tmp/simsiam-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Recipe: SimSiam (Chen & He 2021) with solo-learn's CIFAR optimiser,
scaled to CPU minutes; see below.

Expected (dataset v3, 500 steps, ~2.5 min of training on 2 cores): kNN
~10-12%, at the random-init encoder's level (raw pixels 16%): SimSiam does
not learn the digits in this budget (with 1500 steps it starts to move,
13.7%). The measured runs, every recipe tried and why:
configs/notes/simsiam.md.

SimSiam's heads scaled down: a 3-layer projector with output BN
(`proj_last_bn`) and a bottleneck predictor (pred_hidden_dim = proj_dim / 4,
the paper's 512 / 2048 ratio). SGD with solo-learn's CIFAR lr and weight
decay (0.5 x B/256, 1e-5; the ImageNet paper uses 0.05 and 1e-4).
Augmentations are the quickstart's colour-robust ones (hue jitter 0.5, crops
of at least half the image, no flip; see configs/quickstart.py).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("simsiam")
  recipes.embedded_run(config, total_steps=500, batch_size=128)
  config.data.views = {"views": recipes.embedded_views()}
  config.model.name = "tiny_resnet"
  config.model.proj_layers = 3
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 512
  config.model.proj_last_bn = True
  config.model.pred_hidden_dim = 128
  config.model.pred_last_bn = False
  config.optim.name = "sgd"
  config.optim.lr = 0.5
  config.optim.momentum = 0.9
  config.optim.weight_decay = 1e-5
  config.optim.warmup_steps = 20
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
