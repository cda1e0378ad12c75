r"""Jigsaw, ImageNet, ResNet-50: Noroozi & Favaro's puzzles (2016).

Command:
  python -m jaxssl.main --config configs/jigsaw_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../jigsaw
  (`:smoke` for a seconds-long run at 64 pixels.)

Recipe: arXiv:1603.09246 Sec. 3-4: a 225-pixel crop (from the image resized
to 256: crop area (225/256)^2 = 0.77) in a 3x3 grid of 75-pixel cells, one
64-pixel tile at a random place in each cell, every tile normalised on its
own; 1000 permutations of maximal Hamming distance; the context-free
network (one backbone per tile, concatenated features, fc 4096, softmax over
the 1000 permutations); SGD, batch 256, lr 0.01, 350k iterations (70
epochs). The paper's per-tile backbone is an AlexNet; here ResNet-50
(Kolesnikov et al.'s setting); the lr schedule is jaxssl's warm-up and
cosine, not the paper's steps.

Published: PASCAL VOC 2007 classification 67.6% mAP, detection 53.2% mAP
(AlexNet, the paper's Table 1); ResNet-50 v1 (x2 width) 44.6% ImageNet
linear top-1 (Kolesnikov, Zhai & Beyer, arXiv:1901.09005).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=70)
  config = configs_lib.base_config("jigsaw")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=256
  )
  config.data.image_size = 225
  config.data.crop_scale = (0.77, 0.77)
  config.data.crop_ratio = (1.0, 1.0)
  config.model.name = "resnet50"
  config.method.grid = 3
  config.method.num_permutations = 1000
  config.method.tile_size = 64
  config.method.normalize_tiles = True
  config.method.head_hidden_dim = 4096
  config.optim.name = "sgd"
  config.optim.lr = 0.01
  config.optim.lr_scaling = "none"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 5e-4
  config.optim.warmup_steps = steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
