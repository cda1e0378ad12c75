r"""SwAV, ImageNet, ResNet-50: the paper's recipe (Caron et al. 2020).

Command:
  python -m jaxssl.main --config configs/swav_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../swav

Hyper-parameters: the official 800-epoch script
(`scripts/swav_800ep_pretrain.sh`, 64 GPUs x 64 = batch 4096): multi-crop
2 x 224 px (area 0.14-1) + 6 x 96 px (area 0.05-0.14); flip 0.5, colour
distortion strength 1 (jitter 0.8/0.8/0.8/0.2 with p=0.8, grayscale 0.2),
Gaussian blur 0.5; codes from the two 224-px crops; projector 2048-128,
3000 prototypes, temperature 0.1, Sinkhorn 3 iterations with epsilon 0.05,
prototypes frozen for the first 313 iterations; LARS (trust 0.001),
lr 4.8 (= 0.3 x B/256) after 10 warm-up epochs, cosine to 0.0048, weight
decay 1e-6, synchronised BatchNorm, no queue (queue_length 0: batches of
4096 need none). Expected (official README): 75.3% linear top-1 after 800
epochs, 72.1% after 100 (`:epochs=100`).

Not reproduced: the warm-up's starting lr 0.3 (0 here), mixed precision.
"""

from jaxssl import configs_lib

_TRAIN_IMAGES = 1_281_167


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=800)
  config = configs_lib.base_config()
  config.data.name = "imagenet2012"
  config.data.eval_split = "validation"
  config.data.image_size = 224
  config.data.mean = (0.485, 0.456, 0.406)
  config.data.std = (0.229, 0.224, 0.225)
  config.data.shuffle_buffer = 50_000
  colour = dict(brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2,
                jitter_prob=0.8, gray_prob=0.2, blur_prob=0.5, flip_prob=0.5)
  config.data.views = {
      "global": configs_lib.view_group(num_views=2, size=224,
                                       crop_scale=(0.14, 1.0), **colour),
      "local": configs_lib.view_group(num_views=6, size=96,
                                      crop_scale=(0.05, 0.14), **colour),
  }
  config.model.name = "resnet50"
  config.model.proj_hidden_dim = 2048
  config.model.proj_dim = 128
  config.model.proj_layers = 2
  config.method.name = "swav"
  config.method.num_prototypes = 3000
  config.method.temperature = 0.1
  config.method.sinkhorn_iters = 3
  config.method.sinkhorn_epsilon = 0.05
  config.method.queue_size = 0
  config.method.freeze_last_layer_steps = 313
  config.optim.name = "lars"
  config.optim.lr = 0.3
  config.optim.lr_scaling = "linear"
  config.optim.lars_trust = 1e-3
  config.optim.weight_decay = 1e-6
  config.optim.end_lr_ratio = 0.001
  config.train.batch_size = 4096
  steps_per_epoch = _TRAIN_IMAGES // config.train.batch_size
  config.train.total_steps = args.epochs * steps_per_epoch
  config.optim.warmup_steps = 10 * steps_per_epoch
  config.train.log_every_steps = 100
  config.train.ckpt_every_steps = 2 * steps_per_epoch
  config.train.eval_every_steps = 0
  config.eval.max_train_examples = 100_000  # kNN bank subset during training
  if args.smoke:
    configs_lib.make_smoke(config)
    config.data.views["global"].size = 64
    config.data.views["local"].size = 32
    config.data.views["local"].num_views = 2
    config.data.image_size = 64
    config.method.freeze_last_layer_steps = 1
  return config
