r"""Context prediction, ImageNet, ResNet-50 (Doersch, Gupta & Efros 2015).

Command:
  python -m jaxssl.main --config configs/relative_position_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../relpos
  (`:smoke` for a seconds-long run at 64 pixels.)

Recipe: arXiv:1505.05192 Sec. 3-4: 96-pixel patches on a 3x3 grid with a
48-pixel gap, each patch jittered by up to 7 pixels, mean-normalised per
patch; a pair network (one backbone per patch, concatenated features, fc
4096, softmax over the 8 positions). The grid spans 3 x 96 + 2 x 48 + 2 x 7
= 398 pixels, so images are 400 pixels (the paper resized images to
150k-450k pixels). Not done: the paper's colour-channel dropping against
chromatic aberration. Backbone ResNet-50 (Kolesnikov et al.'s setting; the
paper's is AlexNet-like); SGD with momentum, batch 256, lr 0.1, 35 epochs,
warm-up and cosine: jaxssl's schedule, not the paper's (4 weeks on one
GPU).

Published: PASCAL VOC 2007 detection about 46% mAP with R-CNN (the
paper's Table 1); ResNet-50 v1 (x2 width) 51.4% ImageNet linear top-1
(Kolesnikov, Zhai & Beyer, arXiv:1901.09005).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=35)
  config = configs_lib.base_config("relative_position")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.image_size = 400
  config.data.crop_scale = (0.5, 1.0)
  config.model.name = "resnet50"
  config.method.patch_size = 96
  config.method.gap = 48
  config.method.jitter = 7
  config.method.normalize_tiles = True
  config.method.head_hidden_dim = 4096
  config.optim.name = "sgd"
  config.optim.lr = 0.1
  config.optim.lr_scaling = "linear"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 1e-4
  config.optim.warmup_steps = steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
