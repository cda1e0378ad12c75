r"""MoCo v3, ImageNet, ViT-S/16 (or ViT-B/16): the paper's ViT recipe.

Command:
  python -m jaxssl.main --config configs/mocov3_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../mocov3
  (`configs/mocov3_imagenet.py:arch=vit_base` for ViT-B/16.)

Hyper-parameters: arXiv:2104.02057 Sec. 4 / Appendix and the official
reference commands (facebookresearch/moco-v3 `CONFIG.md`, `main_moco.py`):
batch 4096, AdamW (betas 0.9, 0.999) with lr 1.5e-4 x B/256 (= 2.4e-3) and
weight decay 0.1, 40 warm-up epochs then cosine decay, 300 epochs;
temperature 0.2; momentum 0.99 rising to 1 on a half cosine
(`--moco-m-cos`); ViT heads: projector 3 Linear layers (4096, 4096, 256) and
predictor 2 Linear layers (4096, 256), BN after every layer, the output BNs
without affine parameters. Augmentations (BYOL's): random resized crop
(0.08, 1) to 224, colour jitter (0.4, 0.4, 0.2, 0.1) p=0.8, grayscale
p=0.2, Gaussian blur sigma (0.1, 2) p=1.0 / 0.1, solarisation p=0.0 / 0.2
(first / second view), flip; the patch projection a frozen random
projection (`--stop-grad-conv1`, the paper's stability trick:
`method.freeze_patch_embed`, a frozen parameter group, so AdamW's weight
decay does not shrink it either). Expected (the official models at batch
4096): 73.2% linear top-1 for ViT-S/16, 76.7% for ViT-B/16, by the
paper's protocol, `eval/linear_sgd_top1` (opt-in:
`--config.eval.protocols='("representation","linear_sgd")'`; official
`main_lincls.py` with CONFIG.md's ViT `--lr=3`: SGD momentum 0.9, batch
1024, lr 3 x B/256 (= 12), no weight decay, 90 epochs of random resized
crops + flips), not the offline L-BFGS probe `eval/linear_top1`.

Not reproduced here (no config keys): the official ViT-S's 12 heads
(jaxssl's vit_small has DeiT-S's 6) and fixed 2-D sin-cos position
embedding (jaxssl's default is learned), and weight decay on biases and
LayerNorm/BN parameters (jaxssl's default parameter groups exclude them).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=300, arch="vit_small")
  if args.arch not in ("vit_small", "vit_base"):
    raise ValueError(
      f"config arg arch={args.arch!r} must be vit_small or vit_base"
    )
  config = configs_lib.base_config("mocov3")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=4096
  )
  config.data.views = {"views": recipes.byol_views(size=224)}
  config.model.name = args.arch
  config.model.patch_size = 16
  config.model.proj_layers = 3
  config.model.proj_hidden_dim = 4096
  config.model.proj_dim = 256
  config.model.proj_last_bn = True
  config.model.pred_hidden_dim = 4096
  config.model.pred_last_bn = True
  config.method.temperature = 0.2
  config.method.ema_momentum = 0.99
  config.method.ema_momentum_end = 1.0
  config.method.freeze_patch_embed = True
  config.optim.name = "adamw"
  config.optim.lr = 1.5e-4
  config.optim.lr_scaling = "linear"
  config.optim.b1 = 0.9
  config.optim.b2 = 0.999
  config.optim.weight_decay = 0.1
  config.optim.warmup_steps = 40 * steps_per_epoch
  recipes.linear_sgd_protocol(  # moco-v3 main_lincls.py, CONFIG.md (ViT)
    config, batch_size=1024, lr=3.0, epochs=90, nesterov=False
  )
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
