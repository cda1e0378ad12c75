r"""Exemplar CNN, ImageNet, ResNet-50 (Dosovitskiy et al. 2014).

Command:
  python -m jaxssl.main --config configs/exemplar_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../exemplar
  (`:smoke` for a seconds-long run at 64 pixels.)

Recipe: arXiv:1406.6909: N surrogate classes, each one image under random
transformations (crops and scaling, rotation, contrast and colour: here
BYOL's crop / flip / colour-jitter views, 8 per image, no blur or
solarisation),
softmax over the N classes, SGD with momentum. The paper sampled N = 8000
to 32000 patches from STL-10's unlabelled split; with every ImageNet image
its own class the classifier would have 1.28M x 2048 weights, so this
config keeps the paper's N = 32000 (`num_exemplars`) and should be run on a
train split of that size (e.g. `--config.data.train_split=train[:32000]`
on a TFDS build that allows slicing): images past N are left out of the
loss. Schedule: batch 256 images (2048 views), lr 0.1, 100 epochs of the
subset, warm-up and cosine (the paper's steps are not available).

Published: STL-10 72.8% top-1 with a 64c5-128c5-256c5-512f network (the
paper, Table 1); ResNet-50 v1 (x3 width) 46.0% ImageNet linear top-1
(Kolesnikov, Zhai & Beyer, arXiv:1901.09005, who replace the 1.28M-way
softmax by a triplet loss).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=100)
  config = configs_lib.base_config("exemplar")
  recipes.imagenet_run(config, epochs=args.epochs, batch_size=256)
  steps_per_epoch = 32_000 // 256  # epochs of the N-image subset
  config.train.total_steps = args.epochs * steps_per_epoch
  config.train.ckpt_every_steps = 10 * steps_per_epoch
  config.data.views = {
    "views": recipes.byol_views(
      size=224, num_views=8, blur_prob=0.0, solarize_prob=0.0
    )
  }
  config.model.name = "resnet50"
  config.method.num_exemplars = 32_000
  config.method.head_hidden_dim = 0
  config.optim.name = "sgd"
  config.optim.lr = 0.1
  config.optim.lr_scaling = "linear"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 5e-4
  config.optim.warmup_steps = 5 * steps_per_epoch
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
