r"""SimSiam, ImageNet, ResNet-50: the paper's recipe (Chen & He 2021).

Command:
  python -m jaxssl.main --config configs/simsiam_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../simsiam

Hyper-parameters: arXiv:2011.10566 Sec. 3 / Appendix A and the official
code (facebookresearch/simsiam, `main_simsiam.py` defaults): batch 512, SGD
momentum 0.9, lr 0.05 x B/256 (= 0.1), weight decay 1e-4, cosine decay with
no warm-up, 100 epochs; projector 3 x Linear(2048) with BN after each (the
output BN affine-free), predictor Linear(512)-BN-ReLU-Linear(2048).
Augmentations (MoCo v2's): random resized crop (0.2, 1) to 224, colour
jitter (0.4, 0.4, 0.4, 0.1) p=0.8, grayscale p=0.2, Gaussian blur
sigma (0.1, 2) p=0.5, flip. Expected: 68.1% linear top-1 after 100 epochs
(the README's run, with `--fix-pred-lr`: the predictor at the constant lr
0.1, `method.fixed_predictor_lr`; `--config.method.fixed_predictor_lr=False`
decays it too, the paper's Table 1 gives 67.7% then). Linear top-1 is the
paper's protocol, `eval/linear_sgd_top1` (opt-in:
`--config.eval.protocols='("representation","linear_sgd")'`; Appendix A:
LARS, batch 4096, base lr 0.02 x B/256, momentum 0.9, no weight decay, 90
epochs of random resized crops + flips, cosine), not the offline L-BFGS
probe `eval/linear_top1`. Not reproduced:
weight decay on biases and BN parameters, which jaxssl's default parameter
groups exclude.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=100)
  config = configs_lib.base_config("simsiam")
  recipes.imagenet_run(config, epochs=args.epochs, batch_size=512)
  config.data.views = {
    "views": configs_lib.view_group(
      num_views=2,
      size=224,
      crop_scale=(0.2, 1.0),
      brightness=0.4,
      contrast=0.4,
      saturation=0.4,
      hue=0.1,
      jitter_prob=0.8,
      gray_prob=0.2,
      blur_prob=0.5,
      blur_sigma=(0.1, 2.0),
      solarize_prob=0.0,
      flip_prob=0.5,
    )
  }
  config.model.name = "resnet50"
  # official code: base_encoder(zero_init_residual=True).
  config.model.zero_init_residual = True
  config.model.proj_layers = 3
  config.model.proj_hidden_dim = 2048
  config.model.proj_dim = 2048
  config.model.proj_last_bn = True
  config.model.pred_hidden_dim = 512
  config.model.pred_last_bn = False
  config.method.fixed_predictor_lr = True
  config.optim.name = "sgd"
  config.optim.lr = 0.05
  config.optim.lr_scaling = "linear"
  config.optim.momentum = 0.9
  config.optim.weight_decay = 1e-4
  config.optim.warmup_steps = 0
  recipes.linear_sgd_protocol(  # the paper's App. A linear evaluation
    config,
    batch_size=4096,
    lr=0.02,
    epochs=90,
    optimizer="lars",
    nesterov=False,
  )
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
    config.optim.warmup_steps = 0
  return config
