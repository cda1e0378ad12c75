r"""SupCon on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/supcon_quick.py \
      --workdir /tmp/jaxssl-supcon-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Supervised: the positives of each view are all views with the same digit
label, so this is the upper baseline the self-supervised quick configs are
read against, not a self-supervised result.

Measured (embedded digits v3, 2-core CPU shared with other jobs; one run,
251 s wall for 300 steps at ~200 examples/s, training and final evaluation):
kNN top-1 24.7% (linear probe 22.4%) vs 10.2% for the random-init encoder
and 16.0% for raw pixels (baselines from the VICReg quick run: same seed,
so the same random-init backbone).

Recipe: the quickstart's LARS (lr 1.0 x B/256, weight decay 1e-5) with the
paper's temperature 0.1, a 512-128 projector on the 128-d tiny ResNet
features, batch 128. The projector ends in an affine-free BatchNorm
(`model.proj_last_bn`), unlike the paper: without it SupCon collapsed on
this dataset in both tries (solo-learn's SGD lr 0.4, and this LARS):
early on the same-label examples look no closer than the others, the
quickest way down from the initial loss (6.2) is to make every embedding
the same (loss ln(2n - 1) = 5.54 at n = 128), and that stationary point has
a vanishing gradient (z_std 0.005, kNN 10.6%). Augmentations are the
quickstart's (hue jitter 0.5, crops of at least half the image, no flip;
see configs/quickstart.py and jaxssl.data.embedded).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("supcon")
  recipes.embedded_run(config, total_steps=300, batch_size=128)
  config.data.views = {"views": recipes.embedded_views()}
  config.model.name = "tiny_resnet"
  config.model.proj_layers = 2
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 128
  config.model.proj_last_bn = True
  config.method.temperature = 0.1
  config.optim.name = "lars"
  config.optim.lr = 1.0
  config.optim.weight_decay = 1e-5
  config.optim.warmup_steps = 20
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
