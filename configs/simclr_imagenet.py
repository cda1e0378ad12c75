r"""SimCLR, ImageNet, ResNet-50: the paper's recipe (Chen et al. 2020).

Command:
  python -m jaxssl.main --config configs/simclr_imagenet.py \
      --config.data.data_dir=gs://your-bucket/tfds --workdir gs://.../simclr

Hyper-parameters: arXiv:2002.05709 Sec. B.9 / Appendix: batch 4096, LARS,
lr 0.3 x B/256 (= 4.8), weight decay 1e-6, temperature 0.1, 2-layer
projector 2048-128, 10 warm-up epochs then cosine, augmentations: random
resized crop (0.08, 1) to 224, flip, colour jitter strength 1.0 (0.8, 0.8,
0.8, 0.2) with p=0.8, grayscale p=0.2, Gaussian blur p=0.5. Loss scale 2
(`method.loss_scale`): the official TF loss (google-research/simclr
`objective.add_contrastive_loss`) is loss_a + loss_b, the sum of both
directions' means, twice `losses.nt_xent`; under LARS this sets the step of
the biases and BatchNorm parameters and the weight of weight decay against
the gradient. Expected:
69.3% linear top-1 after 1000 epochs (66.6% after 100: `:epochs=100`),
about 1.5 days on a TPU v3-128 class pod slice at 1000 epochs. Linear
top-1 is the paper's protocol, `eval/linear_sgd_top1` (opt-in:
`--config.eval.protocols='("representation","linear_sgd")'`; the official
README's linear evaluation: SGD Nesterov momentum 0.9, batch 4096, lr
0.1 x B/256 (= 1.6), no weight decay, 90 epochs of random resized crops +
flips), not the offline L-BFGS probe `eval/linear_top1`.
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, epochs=1000)
  config = configs_lib.base_config("simclr")
  steps_per_epoch = recipes.imagenet_run(
    config, epochs=args.epochs, batch_size=4096
  )
  config.data.views = {"views": recipes.simclr_views(size=224)}
  config.model.name = "resnet50"
  # google-research/simclr's ResNet: init_zero on each block's last BN.
  config.model.zero_init_residual = True
  config.model.proj_hidden_dim = 2048
  config.model.proj_dim = 128
  config.method.temperature = 0.1
  config.method.loss_scale = 2.0  # official loss_a + loss_b
  config.optim.name = "lars"
  config.optim.lr = 0.3
  config.optim.lr_scaling = "linear"
  config.optim.weight_decay = 1e-6
  config.optim.warmup_steps = 10 * steps_per_epoch
  recipes.linear_sgd_protocol(  # google-research/simclr README's linear eval
    config, batch_size=4096, lr=0.1, epochs=90, nesterov=True
  )
  if args.smoke:
    configs_lib.make_smoke(config, image_size=64)
  return config
