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
decay 1e-6, BatchNorm synchronised over groups of 512 images (official
`--syncbn_process_group_size 8`: 8 GPUs x 64; `method.bn_groups` 8), no
queue (queue_length 0: batches of 4096 need none). Expected (official
README): 75.3% linear top-1 after 800 epochs, 72.1% after 100
(`:epochs=100`), by the paper's protocol, `eval/linear_sgd_top1` (opt-in:
`--config.eval.protocols='("representation","linear_sgd")'`; official
`eval_linear.py`: SGD momentum 0.9, batch 256, lr 0.3, weight decay 1e-6,
100 epochs of random resized crops + flips, cosine), not the offline
L-BFGS probe `eval/linear_top1`.

Not reproduced: the warm-up's starting lr 0.3 (0 here), mixed precision,
weight decay and LARS adaptation of biases and BN parameters (the official
LARC wraps SGD over all parameters; jaxssl's default parameter groups
exclude them).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=800)
  config = configs_lib.base_config("swav")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=4096
  )
  config.data.views = {
    "global_crops": recipes.simclr_views(size=224, crop_scale=(0.14, 1.0)),
    "local_crops": recipes.simclr_views(
      num_views=6, size=96, crop_scale=(0.05, 0.14)
    ),
  }
  config.model.name = "resnet50"
  config.model.proj_hidden_dim = 2048
  config.model.proj_dim = 128
  config.model.proj_layers = 2
  config.method.num_prototypes = 3000
  config.method.temperature = 0.1
  config.method.iterations = 3
  config.method.epsilon = 0.05
  config.method.queue_size = 0
  config.method.freeze_last_layer_steps = 313
  config.method.bn_groups = 8  # BN statistics per 512 images, as 8 GPUs
  config.optim.name = "lars"
  config.optim.lr = 0.3
  config.optim.lr_scaling = "linear"
  config.optim.lars_trust = 1e-3
  config.optim.weight_decay = 1e-6
  config.optim.end_lr_ratio = 0.001
  config.optim.warmup_steps = 10 * steps_per_epoch
  recipes.linear_sgd_protocol(  # swav eval_linear.py defaults (8 GPUs)
    config,
    batch_size=256,
    lr=0.3,
    epochs=100,
    nesterov=False,
    weight_decay=1e-6,
  )
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
    config.data.views["local_crops"].size = 32
    config.data.views["local_crops"].num_views = 2
    config.method.freeze_last_layer_steps = 1
  return config
