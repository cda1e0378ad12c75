r"""VICReg on the embedded digits dataset with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/vicreg_quick.py \
      --workdir /tmp/jaxssl-vicreg-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Measured (embedded digits v3, 2-core CPU heavily shared with other jobs,
load ~12; one run, both views then in one BatchNorm call, before
`method.bn_per_view`): kNN top-1 25.7% (linear probe 32.5%) vs 10.2% (11.5%)
for the random-init encoder and 16.0% (9.8%) for raw pixels; 300 steps at
68.5 examples/s (~9.5 min of training at that load, ~2.5 min at the
~250-300 examples/s of quiet cores), 1517 s wall including both baselines'
kNN and linear probes.

Recipe: solo-learn's CIFAR VICReg (weights 25/25/1 in jaxssl's convention,
whose variance term averages the two branches: solo-learn's std weight 12.5
on their sum; LARS lr 0.3 x B/256 with trust coefficient 0.02, weight decay
1e-4), shrunk for a CPU: a 3-layer
512-512-512 projector on the 128-d tiny ResNet features, batch 128.
Augmentations are the quickstart's colour-robust ones (hue jitter 0.5, crops
of at least half the image, no flip; see configs/quickstart.py and
jaxssl.data.embedded).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("vicreg")
  recipes.embedded_run(config, total_steps=300, batch_size=128)
  config.data.views = {"views": recipes.embedded_views()}
  config.model.name = "tiny_resnet"
  config.model.proj_layers = 3
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 512
  config.method.invariance_weight = 25.0
  config.method.variance_weight = 25.0
  config.method.covariance_weight = 1.0
  config.optim.name = "lars"
  config.optim.lr = 0.3
  config.optim.lars_trust = 0.02
  config.optim.weight_decay = 1e-4
  config.optim.warmup_steps = 20
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
