r"""VICReg, ImageNet, ResNet-50: the paper's recipe (Bardes et al. 2022).

Command:
  python -m jaxssl.main --config configs/vicreg_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../vicreg

Hyper-parameters: arXiv:2105.04906 Appendix / the official code
(facebookresearch/vicreg main_vicreg.py): batch 2048, LARS (trust
coefficient 1e-3, biases and BatchNorm parameters excluded from adaptation
and weight decay), base lr 0.2 x B/256 (= 1.6), weight decay 1e-6, 1000
epochs, 10 warm-up epochs then cosine decay to 1/1000 of the peak,
projector 8192-8192-8192, weights sim 25 / std 25 / cov 1; BYOL's
augmentations: random resized crop (0.08, 1) to 224, flip, colour jitter
(0.4, 0.4, 0.2, 0.1) p=0.8, grayscale p=0.2, blur p=1.0 / 0.1 and solarize
p=0 / 0.2 for the two views. Expected: 73.2% linear top-1 (paper, Table 1),
by the paper's protocol, `eval/linear_sgd_top1` (opt-in:
`--config.eval.protocols='("representation","linear_sgd")'`; official
`evaluate.py --lr-head 0.02`: SGD momentum 0.9, batch 256, weight decay
1e-6, 100 epochs of random resized crops + flips, cosine), not the offline
L-BFGS probe `eval/linear_top1`.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config("vicreg")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=2048
  )
  config.data.views = {"views": recipes.byol_views(size=224)}
  config.model.name = "resnet50"
  # official code: resnet50(zero_init_residual=True).
  config.model.zero_init_residual = True
  config.model.proj_layers = 3
  config.model.proj_hidden_dim = 8192
  config.model.proj_dim = 8192
  config.method.invariance_weight = 25.0
  config.method.variance_weight = 25.0
  config.method.covariance_weight = 1.0
  config.optim.name = "lars"
  config.optim.lr = 0.2
  config.optim.lr_scaling = "linear"
  config.optim.lars_trust = 1e-3
  config.optim.weight_decay = 1e-6
  config.optim.end_lr_ratio = 1e-3
  config.optim.warmup_steps = 10 * steps_per_epoch
  recipes.linear_sgd_protocol(  # vicreg evaluate.py, README's --lr-head
    config,
    batch_size=256,
    lr=0.02,
    epochs=100,
    nesterov=False,
    weight_decay=1e-6,
  )
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
