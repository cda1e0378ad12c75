r"""Colorization, ImageNet, ResNet-50 (Zhang, Isola & Efros 2016).

Command:
  python -m jaxssl.main --config configs/colorization_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../color
  (`:smoke` for a seconds-long run at 64 pixels.)

Recipe: arXiv:1603.08511 Sec. 2-3: L in, ab out at 1/4 resolution (56 for
224 inputs) as a distribution over ab bins of side 10, targets soft-encoded
over 5 neighbours (sigma 5), class rebalancing with lambda 1/2 (sigma 5);
Adam (beta 0.9 / 0.99, weight decay 1e-3), lr 3e-5, batch 40, 450k
iterations (about 14 epochs). The paper's network is a VGG-style fully
convolutional net; here ResNet-50 (stride 32: a 7x7 map) and a decoder of
three 4x4 stride-2 transposed convolutions up to 56x56 (`decoder_dim`
channels). Augmentation: random crop and flip only.

Published: PASCAL VOC 2007 classification 65.9% mAP, detection 46.9% mAP,
segmentation 35.6% mIU (AlexNet, fine-tuned); the paper also reports
linear classifiers on every frozen conv layer on ImageNet (its Table 3;
about 30% top-1 at the best layer).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=14)
  config = configs_lib.base_config("colorization")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=40
  )
  config.data.crop_scale = (0.5, 1.0)
  config.data.flip_prob = 0.5
  config.model.name = "resnet50"
  config.method.target_size = 56
  config.method.decoder_dim = 256
  config.method.rebalance_mix = 0.5
  config.optim.name = "adamw"
  config.optim.lr = 3e-5
  config.optim.lr_scaling = "none"
  config.optim.b1 = 0.9
  config.optim.b2 = 0.99
  config.optim.weight_decay = 1e-3
  config.optim.warmup_steps = steps_per_epoch // 10
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
