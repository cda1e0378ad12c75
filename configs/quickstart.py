r"""SimCLR on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/quickstart.py \
      --workdir /tmp/jaxssl-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Expected (2-core CPU): see the README's quickstart table for the measured
wall time and kNN top-1 of the learned encoder vs random init and raw pixels.

Recipe: SimCLR (Chen et al. 2020, arXiv:2002.05709): NT-Xent over two
views, LARS, a 2-layer projector; temperature 0.2 and LARS lr 1.0 x B/256
chosen for 400 steps at batch 128 on CPU. Augmentations are colour-robust
on purpose (hue jitter 0.5, crops of at least
half the image): the digits' random colour would otherwise let instance
discrimination succeed by colour alone, and small crops cut the digit out
(see jaxssl.data.embedded).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("simclr")
  recipes.embedded_run(config, total_steps=400, batch_size=128)
  config.data.views = {"views": recipes.embedded_views()}
  config.model.name = "tiny_resnet"
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 128
  config.method.temperature = 0.2
  config.optim.name = "lars"
  config.optim.lr = 1.0
  config.optim.weight_decay = 1e-5
  config.optim.warmup_steps = 20
  # kNN only, to stay within CPU minutes: the raw-pixel linear probe alone
  # (3072-d) costs about a minute here. `python -m jaxssl.zoo` turns it on.
  config.eval.linear_probe = False
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
