r"""Supervised baseline on the embedded digits with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/supervised_quick.py \
      --workdir /tmp/supervised-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)
  Fashion-MNIST as in the README's real-image table: add
  --config.data.name=fashion_mnist --config.data.pad_to_size=True
  --config.data.max_train_per_class=1400 --config.data.max_eval_per_class=300

The "supervised model with the same backbone and the same budget" that the
self-supervised rows are read against: the quickstart's backbone, views
(hue jitter 0.5, crops of at least half the image, no flip), batch 128 and
400 steps, with a linear head trained by cross-entropy on the labels
(`jaxssl.methods.supervised`). Not a self-supervised result.

Measured on the embedded digits v3 (2026-12-04, 88 s of training): kNN /
linear top-1 of the backbone features 51.4% / 58.6% (random init 12.2% /
13.2%). With each residual block's last BatchNorm scale starting at 0
(`model.zero_init_residual=True`, the default before 2026-12-04) the same
run stays at chance (11.8% / 13.6%; its loss at ln 10 for ~600 steps).

Measured on Fashion-MNIST (the flags above; 2026-12-02, the scales
starting at 0, 2-core CPU shared with other jobs at a load of ~10, so
slow): training 776 s (400 steps), kNN / linear top-1 of the backbone
features 84.0% / 84.6%; the quickstart (SimCLR) on the same data 77.7% /
81.7%, random init 59.8% / 61.0%, raw pixels 82.4% / 85.0%.

Recipe: the standard CIFAR ResNet recipe (He et al. 2016, arXiv:1512.03385:
SGD momentum 0.9, lr 0.1, weight decay 5e-4), here with a 10-step warm-up
and a cosine decay over the quickstart's 400 steps.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("supervised")
  recipes.embedded_run(config, total_steps=400, batch_size=128)
  config.data.views = {"views": recipes.embedded_views()}
  config.model.name = "tiny_resnet"
  config.method.num_classes = 10
  config.method.head_hidden_dim = 0
  config.optim.name = "sgd"
  config.optim.lr = 0.1
  config.optim.lr_scaling = "none"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 5e-4
  config.optim.warmup_steps = 10
  config.eval.linear_probe = False  # as the quickstart; the zoo turns it on
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
