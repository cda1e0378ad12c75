r"""Denoising autoencoder, ImageNet, ResNet-50 (Vincent et al. 2008).

Command:
  python -m jaxssl.main --config configs/denoising_ae_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../dae
  (`:smoke` for a seconds-long run at 64 pixels.)

Recipe: Vincent et al. trained one-layer denoising autoencoders on 28x28
MNIST variants with masking noise (a fraction of the inputs set to 0, 25%
here, in the 10-50% they sweep) and stacked them; there is no ImageNet
recipe in the paper. This config keeps the objective (masking noise,
squared error on every pixel of the clean image, reconstruction from the
encoder's pooled code) with a ResNet-50 encoder at 224 pixels and a
transposed-convolution decoder from a 7x7 start (5 doublings), AdamW lr
1e-3 x B/256, batch 256, 100 epochs, random crop and flip.

Published: the paper's Table 1 (MNIST and its rotated / background
variants, 28x28) has the 3-layer stacked DAE (SdA-3) at or near the best
test error, ahead of stacked plain autoencoders on most variants. There is
no published ImageNet linear-probe number for this setting.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=100)
  config = configs_lib.base_config("denoising_ae")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.crop_scale = (0.2, 1.0)
  config.data.flip_prob = 0.5
  config.model.name = "resnet50"
  config.method.corruption = "mask"
  config.method.noise_level = 0.25
  config.method.decoder_dim = 512
  config.method.decoder_stages = 5
  config.optim.name = "adamw"
  config.optim.lr = 1e-3
  config.optim.lr_scaling = "linear"
  config.optim.weight_decay = 0.05
  config.optim.warmup_steps = 5 * steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
