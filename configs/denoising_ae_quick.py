r"""denoising_ae on the embedded digits with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/denoising_ae_quick.py \\
      --workdir /tmp/denoising_ae-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

TODO: measured.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("denoising_ae")
  recipes.embedded_run(config, total_steps=300, batch_size=128)
  config.model.name = "tiny_resnet"
  config.method.corruption = "mask"
  config.method.noise_level = 0.25
  config.method.decoder_dim = 32
  config.method.decoder_stages = 3
  config.optim.name = "adamw"
  config.optim.lr = 1e-3
  config.optim.lr_scaling = "none"
  config.optim.weight_decay = 1e-4
  config.optim.warmup_steps = 10
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
