r"""MAE on the embedded digits dataset with a ViT-Ti (patch 4): CPU minutes.

Command:
  python -m jaxssl.main --config configs/mae_quick.py --workdir /tmp/mae-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

One view per image, MAE's augmentation only (random resized crop, no colour
jitter); crops keep at least half the image (not the paper's 0.2: smaller
crops cut the digit out, see jaxssl.data.embedded) and there is no flip
(digits are not mirror symmetric). 32x32 images in 4x4 patches give 64
patches, 16 visible at mask ratio 0.75. The decoder is shrunk to 128-d, 2
blocks, 4 heads for CPU (the paper: 512-d, 8 blocks). AdamW (b2 0.95, wd
0.05) with MAE's base lr 1.5e-4 x B/256, linear warm-up then cosine.

Expected: not measured yet (the first tuning run is pending).
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config()
  config.data.name = "embedded_digits"
  config.data.image_size = 32
  config.data.views = {"views": configs_lib.view_group(
      num_views=1, size=32, crop_scale=(0.5, 1.0), flip_prob=0.0,
      jitter_prob=0.0, gray_prob=0.0)}
  config.model.name = "vit_tiny"
  config.model.patch_size = 4
  config.method.name = "mae"
  config.method.mask_ratio = 0.75
  config.method.norm_pix_loss = True
  config.method.decoder_dim = 128
  config.method.decoder_depth = 2
  config.method.decoder_heads = 4
  config.optim.name = "adamw"
  config.optim.lr = 1.5e-4
  config.optim.lr_scaling = "linear"
  config.optim.b1 = 0.9
  config.optim.b2 = 0.95
  config.optim.weight_decay = 0.05
  config.optim.warmup_steps = 20
  config.train.batch_size = 256
  config.train.total_steps = 400
  config.train.log_every_steps = 10
  config.train.ckpt_every_steps = 100
  config.train.eval_every_steps = 0
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
