r"""SupCon, ImageNet, ResNet-50: the official recipe (Khosla et al. 2020).

Command:
  python -m jaxssl.main --config configs/supcon_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../supcon

Supervised: positives are the views with the same ImageNet label.

Hyper-parameters: the official TensorFlow code's
`supcon/scripts/supcon_imagenet_resnet50.sh` (google-research), which the
paper's ImageNet numbers come from: batch 6144, LARS, lr 0.4 x B/256 (=
9.6), weight decay 1e-3, 350 epochs with 12 warm-up epochs then cosine
decay, temperature 0.1, a single Linear 2048 -> 128 projection head.
Augmentations here are SimCLR's (random resized crop (0.08, 1) to 224,
flip, colour jitter (0.8, 0.8, 0.8, 0.2) p=0.8, grayscale p=0.2, blur
p=0.5): the official script uses AutoAugment, which jaxssl does not
implement. Expected: the paper reports 78.7% top-1 for ResNet-50 with
AutoAugment; expect somewhat less with these augmentations.
Differences: the official head L2-normalises the backbone features before
the projection and multiplies the loss by the temperature
(`scale_by_temperature`); biases also get weight decay there.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=350)
  config = configs_lib.base_config("supcon")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=6144
  )
  config.data.views = {"views": recipes.simclr_views(size=224)}
  config.model.name = "resnet50"
  config.model.proj_layers = 1
  config.model.proj_dim = 128
  config.method.temperature = 0.1
  config.optim.name = "lars"
  config.optim.lr = 0.4
  config.optim.lr_scaling = "linear"
  config.optim.lars_trust = 1e-3
  config.optim.weight_decay = 1e-3
  config.optim.warmup_steps = 12 * steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
