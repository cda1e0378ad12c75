r"""SimCLR, ImageNet, ResNet-50: the paper's recipe (Chen et al. 2020).

Command:
  python -m jaxssl.main --config configs/simclr_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../simclr

Hyper-parameters: arXiv:2002.05709 Sec. B.9 / Appendix: batch 4096, LARS,
lr 0.3 x B/256 (= 4.8), weight decay 1e-6, temperature 0.1, 2-layer
projector 2048-128, 10 warm-up epochs then cosine, augmentations: random
resized crop (0.08, 1) to 224, flip, colour jitter strength 1.0 (0.8, 0.8,
0.8, 0.2) with p=0.8, grayscale p=0.2, Gaussian blur p=0.5. Expected:
69.3% linear top-1 after 1000 epochs (66.6% after 100: `:epochs=100`),
about 1.5 days on a TPU v3-128 class pod slice at 1000 epochs.
"""

from jaxssl import configs_lib

_TRAIN_IMAGES = 1_281_167


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config()
  config.data.name = "imagenet2012"
  config.data.eval_split = "validation"
  config.data.image_size = 224
  config.data.mean = (0.485, 0.456, 0.406)
  config.data.std = (0.229, 0.224, 0.225)
  config.data.shuffle_buffer = 50_000
  config.data.views = {"views": configs_lib.view_group(
      num_views=2, size=224, crop_scale=(0.08, 1.0), brightness=0.8,
      contrast=0.8, saturation=0.8, hue=0.2, jitter_prob=0.8, gray_prob=0.2,
      blur_prob=0.5, solarize_prob=0.0, flip_prob=0.5)}
  config.model.name = "resnet50"
  config.model.proj_hidden_dim = 2048
  config.model.proj_dim = 128
  config.method.name = "simclr"
  config.method.temperature = 0.1
  config.optim.name = "lars"
  config.optim.lr = 0.3
  config.optim.lr_scaling = "linear"
  config.optim.weight_decay = 1e-6
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
    config.data.views.views.size = 64
    config.data.image_size = 64
  return config
