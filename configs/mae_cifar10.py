r"""MAE, CIFAR-10, ViT-S/4: solo-learn's CIFAR recipe.

Command:
  python -m jaxssl.main --config configs/mae_cifar10.py \
      --config.data.data_dir=~/tensorflow_datasets --workdir /tmp/mae-c10

Hyper-parameters: solo-learn `scripts/pretrain/cifar/mae.yaml` with its
`augmentations/reconstruction.yaml`: ViT-S with 4x4 patches on 32x32 images
(64 patches, 16 visible), decoder 512-d, 8 blocks, 16 heads, mask ratio
0.75, norm_pix loss; AdamW lr 2e-4 x B/256, betas (0.9, 0.95), weight decay
0.05, batch 256, 1000 epochs, warm-up then cosine (solo-learn's
`warmup_cosine` default: 10 warm-up epochs; it starts the warm-up at 3e-5,
jaxssl at 0); one random resized crop (0.08, 1) with flip 0.5 and no colour
augmentation. The encoder uses MAE's fixed sin-cos position embeddings.

Expected: solo-learn publishes no CIFAR-10 number for this recipe (its
README table has MAE only for ImageNet-100, ViT-B/16, fine-tuned), so there
is no published target to reproduce here; score it with the linear probe
(cls token). Needs the TFDS `cifar10` data (`tfds build cifar10`).
`jaxssl.bench --compile_only`: 46.8M parameters (the 512-d, 8-block decoder
is larger than the ViT-S encoder), 12.4 GFLOP per image per train step:
an accelerator job (~1000 GPU/TPU-class epochs), not a CPU one.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config("mae")
  steps_per_epoch = recipes.cifar10_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.views = {
    "views": configs_lib.view_group(
      num_views=1,
      size=32,
      crop_scale=(0.08, 1.0),
      flip_prob=0.5,
      jitter_prob=0.0,
      gray_prob=0.0,
      blur_prob=0.0,
      solarize_prob=0.0,
    )
  }
  config.model.name = "vit_small"
  config.model.patch_size = 4
  config.method.mask_ratio = 0.75
  config.method.norm_pix = True
  config.method.decoder_dim = 512
  config.method.decoder_depth = 8
  config.method.decoder_heads = 16
  config.optim.name = "adamw"
  config.optim.lr = 2e-4
  config.optim.lr_scaling = "linear"
  config.optim.b1 = 0.9
  config.optim.b2 = 0.95
  config.optim.weight_decay = 0.05
  config.optim.warmup_steps = min(
    10 * steps_per_epoch, config.train.total_steps
  )
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
