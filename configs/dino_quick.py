r"""DINO on the embedded digits dataset with a tiny ResNet, multi-crop: CPU minutes.

Command:
  python -m jaxssl.main --config configs/dino_quick.py --workdir /tmp/dino-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Measured (one run, 2-core CPU shared with other jobs): MEASURED.

Multi-crop: 2 global crops of 32 px (area 0.5-1, the quickstart's
colour-robust augmentations: hue jitter 0.5, no flip; see
configs/quickstart.py) seen by teacher and student, and 4 local crops of
16 px (area 0.25-0.5) seen by the student only. Official DINO settings
(AdamW, weight decay 0.04, teacher momentum 0.996, teacher temperature
0.04, student 0.1, centre momentum 0.9, clipping 3.0) with a small head for
a 10-class dataset: 256 prototypes, 512-wide MLP, 64-d bottleneck. With
1024 prototypes and a 128-d bottleneck the teacher's targets start almost
uniform (random unit prototypes have cosines ~1/sqrt(d) with z) and a
300-step run drifted to the uniform collapse (teacher entropy -> log K,
z_std 0.077 -> 0.033 in 70 steps); so did LARS at lr 0.3 (trust 1e-3 moves
the weights ~1e-4 per step while the unadapted biases move at full lr).
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config()
  config.data.name = "embedded_digits"
  config.data.image_size = 32
  colour = dict(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.5,
                jitter_prob=0.8, gray_prob=0.2, flip_prob=0.0)
  config.data.views = {
      "global": configs_lib.view_group(num_views=2, size=32,
                                       crop_scale=(0.5, 1.0), **colour),
      "local": configs_lib.view_group(num_views=4, size=16,
                                      crop_scale=(0.25, 0.5), **colour),
  }
  config.model.name = "tiny_resnet"
  config.method.name = "dino"
  config.method.num_prototypes = 256
  config.method.head_hidden_dim = 512
  config.method.head_bottleneck_dim = 64
  config.method.head_layers = 3
  config.method.norm_last_layer = True
  config.method.ema_momentum = 0.996
  config.method.ema_momentum_end = 1.0
  config.method.student_temp = 0.1
  config.method.teacher_temp = 0.04
  config.method.teacher_temp_end = 0.04
  config.method.teacher_temp_warmup_steps = 0
  config.method.center_momentum = 0.9
  config.method.freeze_last_layer_steps = 20
  config.optim.name = "adamw"
  config.optim.lr = 2e-3
  config.optim.weight_decay = 0.04
  config.optim.clip_grad_norm = 3.0
  config.optim.warmup_steps = 20
  config.train.batch_size = 128
  config.train.total_steps = 300
  config.train.log_every_steps = 10
  config.train.ckpt_every_steps = 100
  config.train.eval_every_steps = 0
  if args.smoke:
    configs_lib.make_smoke(config)
    config.method.teacher_temp_end = 0.07  # exercise the warm-up
    config.method.teacher_temp_warmup_steps = 2
    config.method.freeze_last_layer_steps = 1
  return config
