r"""RotNet, ImageNet, ResNet-50: rotation prediction (Gidaris et al. 2018).

Command:
  python -m jaxssl.main --config configs/rotation_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../rotnet
  (`:smoke` for a seconds-long run at 64 pixels.)

Recipe: arXiv:1803.07728 Sec. 3 (ImageNet): the 4 rotations of every image
in each batch (`all_rotations`, their Table 6 best), cross-entropy, SGD with
momentum 0.9, weight decay 5e-4, batch 192 images (768 rotated copies), lr
0.01 for 30 epochs; the paper steps the lr down, jaxssl's schedule is a
warm-up then cosine. The paper's network is an AlexNet; here ResNet-50 with
a 4-way linear classifier on its pooled features (Kolesnikov et al.'s
setting). Augmentation: a random resized crop (0.08, 1) and flip (no colour
jitter: rotation is read from shape).

Published: AlexNet conv blocks + linear classifiers on ImageNet, best 38.7%
top-1 (conv3, the paper's Table 5); PASCAL VOC 2007 detection 54.4% mAP.
ResNet-50 v2 / RevNet-50 (x4 width): up to 55.4% linear top-1 (Kolesnikov,
Zhai & Beyer, Revisiting Self-Supervised Visual Representation Learning,
arXiv:1901.09005).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=30)
  config = configs_lib.base_config("rotation")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=192
  )
  config.data.crop_scale = (0.08, 1.0)
  config.data.crop_ratio = (3 / 4, 4 / 3)
  config.data.flip_prob = 0.5
  config.model.name = "resnet50"
  config.method.all_rotations = True
  config.method.head_hidden_dim = 0
  config.optim.name = "sgd"
  config.optim.lr = 0.01
  config.optim.lr_scaling = "none"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 5e-4
  config.optim.warmup_steps = steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
