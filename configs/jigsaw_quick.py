r"""jigsaw on the embedded digits with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/jigsaw_quick.py \\
      --workdir /tmp/jigsaw-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

TODO: measured.
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
