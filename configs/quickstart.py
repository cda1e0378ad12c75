r"""SimCLR on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/quickstart.py --workdir /tmp/jaxssl-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Expected (2-core CPU): see the README's quickstart table for the measured
wall time and kNN top-1 of the learned encoder vs random init and raw pixels.

Augmentations are colour-robust on purpose (hue jitter 0.5, crops of at least
half the image): the digits' random colour would otherwise let instance
discrimination succeed by colour alone, and small crops cut the digit out
(see jaxssl.data.embedded).
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
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 128
  config.method.name = "simclr"
  config.method.temperature = 0.2
  config.optim.name = "lars"
  config.optim.lr = 1.0
  config.optim.weight_decay = 1e-5
  config.optim.warmup_steps = 20
  config.train.batch_size = 128
  config.train.total_steps = 400
  config.train.log_every_steps = 10
  config.train.ckpt_every_steps = 100
  config.train.eval_every_steps = 0
  # kNN only, to stay within CPU minutes: the raw-pixel linear probe alone
  # (3072-d) costs about a minute here. `python -m jaxssl.zoo` turns it on.
  config.eval.linear_probe = False
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
