r"""MAE on the embedded digits dataset with a ViT-Ti (patch 8): CPU minutes.

Command:
  python -m jaxssl.main --config configs/mae_quick.py --workdir /tmp/mae-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

One view per image, MAE's augmentation only (random resized crop, no colour
jitter); crops keep at least half the image (not the paper's 0.2: smaller
crops cut the digit out, see jaxssl.data.embedded) and there is no flip
(digits are not mirror symmetric). 32x32 images in 8x8 patches give 16
patches, 4 visible at mask ratio 0.75 (patch 4, 64 patches, costs 0.75
GFLOP per image against 0.21: `jaxssl.bench` gave 38 images/s at batch 256
on a 2-core machine under load 1.5, patch 8 80 images/s under load 10).
The decoder is shrunk to 128-d, 2 blocks, 4 heads (the paper: 512-d, 8
blocks). AdamW (b2 0.95, wd 0.05), base lr 1.5e-3 x B/256, ten
times MAE's 1.5e-4 for a 400-step run, linear warm-up then cosine. The kNN
bank / linear-probe training set is 5000 train images, because ViT features
of the whole split cost minutes on CPU.

Expected (dataset v3, 400 steps, ~2 min of training on 2 cores): kNN and
linear probe at the random-init encoder's level (~10%; raw pixels 12%):
MAE first learns each image's colour tint and does not learn digit
features in this budget; use this config as a fast end-to-end check and a
reconstruction figure. The measured runs, what was tried and why:
configs/notes/mae.md.

"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("mae")
  recipes.embedded_run(config, total_steps=400, batch_size=128)
  # MAE's augmentation only: the crop; no colour jitter or grayscale.
  config.data.views = {
    "views": recipes.embedded_views(num_views=1, jitter_prob=0.0, gray_prob=0.0)
  }
  config.model.name = "vit_tiny"
  config.model.patch_size = 8
  config.method.mask_ratio = 0.75
  config.method.norm_pix = True
  config.method.decoder_dim = 128
  config.method.decoder_depth = 2
  config.method.decoder_heads = 4
  config.optim.name = "adamw"
  config.optim.lr = 1.5e-3
  config.optim.lr_scaling = "linear"
  config.optim.b1 = 0.9
  config.optim.b2 = 0.95
  config.optim.weight_decay = 0.05
  config.optim.warmup_steps = 20
  config.eval.max_train_examples = 5000
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
