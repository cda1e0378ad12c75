r"""Barlow Twins on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/barlow_twins_quick.py \
      --workdir /tmp/jaxssl-barlow-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Measured (embedded digits v3, 2-core CPU shared with other jobs; one run,
both views then in one BatchNorm call, before `method.bn_per_view`;
288 s wall for 300 steps at ~170 examples/s, training and final evaluation):
kNN top-1 23.5% (linear probe 30.7%) vs 10.2% for the random-init encoder
and 16.0% for raw pixels (baselines from the VICReg quick run: same seed,
so the same random-init backbone).

Recipe: solo-learn's CIFAR Barlow Twins (LARS lr 0.3 x B/256 with trust
coefficient 0.02, weight decay 1e-4, lambda 0.0051, loss scale 0.1), shrunk
for a CPU: a 512-512-128 projector on the 128-d tiny ResNet features, batch
128. The output is kept at 128 dimensions (<= batch): with a 512-d output
the 512 x 512 cross-correlation of 128 samples (rank <= 127) kept the
diagonal far from 1 (on_diag ~150-250 of 512, positive cosine ~0.4) and the
same run reached only 14.3% kNN; at 128-d on_diag falls to ~8 of 128 and
positive cosine to ~0.8. Augmentations are the quickstart's colour-robust
ones (hue jitter 0.5, crops of at least half the image, no flip; see
configs/quickstart.py and jaxssl.data.embedded).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("barlow_twins")
  recipes.embedded_run(config, total_steps=300, batch_size=128)
  config.data.views = {"views": recipes.embedded_views()}
  config.model.name = "tiny_resnet"
  config.model.proj_layers = 3
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 128
  config.method.off_diagonal_weight = 0.0051
  config.method.barlow_scale = 0.1
  config.optim.name = "lars"
  config.optim.lr = 0.3
  config.optim.lars_trust = 0.02
  config.optim.weight_decay = 1e-4
  config.optim.warmup_steps = 20
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
