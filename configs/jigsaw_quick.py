r"""Jigsaw puzzles on the embedded digits with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/jigsaw_quick.py \
      --workdir /tmp/jigsaw-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Recipe: Noroozi & Favaro's task scaled to 32 pixels: a 3x3 grid of
10-pixel cells, one 8-pixel tile at a random place in each (random gaps of
0-4 pixels between tiles), each tile normalised on its own, 100 permutations
of maximal Hamming distance (the paper: 1000 at 64/75 pixels; 100 keeps the
task learnable in 300 steps), one tiny ResNet shared by the tiles, a
512-unit classifier on the 9 concatenated features. SGD with momentum 0.9,
lr 0.1 (no batch scaling), weight decay 5e-4, warm-up 10 steps and cosine,
batch 128 images (1152 tiles), 300 steps. Evaluation reads the backbone on
the whole 32-pixel image.

Measured (one run in `python -m jaxssl.zoo`, 2026-12-01, on the 2-core CPU
shared with other jobs at a load of 3-12): training 236 s (300 steps;
permutation accuracy 21% at the end, chance 1%); kNN / linear top-1 12.0% /
17.2% against 10.3% / 11.8% for the same backbone at random init (raw
pixels 16.0% / 10.8%, their 64-component PCA 15.6% / 11.6%).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("jigsaw")
  recipes.embedded_run(config, total_steps=300, batch_size=128)
  config.model.name = "tiny_resnet"
  config.method.num_permutations = 100
  config.method.tile_size = 8
  config.method.head_hidden_dim = 512
  config.optim.name = "sgd"
  config.optim.lr = 0.1
  config.optim.lr_scaling = "none"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 5e-4
  config.optim.warmup_steps = 10
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
