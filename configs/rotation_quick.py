r"""RotNet (rotation prediction) on the embedded digits: CPU minutes.

Command:
  python -m jaxssl.main --config configs/rotation_quick.py \
      --workdir /tmp/rotation-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Recipe: RotNet's (Gidaris et al., arXiv:1803.07728, CIFAR-10 setting): the
four rotations of every image in the batch, a cross-entropy over the 4
classes, SGD with momentum 0.9, lr 0.1, weight decay 5e-4; here warm-up 10
steps and cosine (the paper steps the lr), a 256-unit classifier on the
tiny ResNet's pooled features, batch 64 images (256 rotated copies), 300
steps, the whole image (no crop or flip: a flip does not change which way
is up, but digits are not mirror symmetric).

Measured (`python -m jaxssl.zoo`, 2026-12-01, 2-core CPU shared with other
jobs at a load of about 6-7): training 302 s (300 steps, rotation accuracy
~50-57% at the end, chance 25%); kNN / linear top-1 15.6% / 23.1% against
10.2% / 11.2% for the same backbone at random init (raw pixels 16.0% /
10.8%, their 64-component PCA 15.6% / 11.6%). The same run was measured
before at 300 steps with identical numbers; with 200 steps (243 s) it
reached only 11.4% / 13.5%: the rotation task is still being learned at
the end of the budget (upright digits on faint photo backgrounds).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("rotation")
  recipes.embedded_run(config, total_steps=300, batch_size=64)
  config.model.name = "tiny_resnet"
  config.method.all_rotations = True
  config.method.head_hidden_dim = 256
  config.optim.name = "sgd"
  config.optim.lr = 0.1
  config.optim.lr_scaling = "none"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 5e-4
  config.optim.warmup_steps = 10
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
