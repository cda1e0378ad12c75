r"""relative_position on the embedded digits with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/relative_position_quick.py \\
      --workdir /tmp/relative_position-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

TODO: measured.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("relative_position")
  recipes.embedded_run(config, total_steps=800, batch_size=256)
  config.model.name = "tiny_resnet"
  config.method.patch_size = 8
  config.method.gap = 2
  config.method.jitter = 2
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
