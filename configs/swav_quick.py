r"""SwAV, multi-crop, on the embedded digits with a tiny ResNet: CPU minutes.

Command:
  python -m jaxssl.main --config configs/swav_quick.py --workdir /tmp/swav-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Recipe: official SwAV (Sinkhorn-Knopp codes, epsilon 0.05, 3 iterations,
temperature 0.1, LARS), scaled to CPU minutes; see below.

Expected (dataset v3, 300 steps, ~3.3 min of training on 2 cores): kNN
~10-11%, at the random-init encoder's level (raw pixels 16%): SwAV does not
learn the digits in this budget although the run is healthy (no collapse).
The measured runs, every recipe tried and why: configs/notes/swav.md.

Multi-crop: 2 global crops of 32 px (area 0.5-1, hue jitter 0.5, grayscale
0.2, no flip), from which the codes are computed, and 4 local crops of
16 px (area 0.25-0.5) that only predict them. 100 prototypes for a
10-class dataset, projector 512-128. Batches of 128 are small for
Sinkhorn's equipartition, so a queue of the last 1024 global embeddings per
crop joins the codes' computation from step 60 (SwAV's recipe for batches
below 256; official: queue 3840 from epoch 15); prototypes are frozen for
the first 20 steps (official: 313 iterations).
"""

from jaxssl import configs_lib, recipes


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("swav")
  recipes.embedded_run(config, total_steps=300, batch_size=128)
  # Hue jitter only: with brightness/contrast/saturation jitter the codes
  # went uniform (loss stuck at log K; see the docstring).
  hue_only = dict(brightness=0.0, contrast=0.0, saturation=0.0)
  config.data.views = {
    "global_crops": recipes.embedded_views(**hue_only),
    "local_crops": recipes.embedded_views(
      num_views=4, size=16, crop_scale=(0.25, 0.5), **hue_only
    ),
  }
  config.model.name = "tiny_resnet"
  config.model.proj_hidden_dim = 512
  config.model.proj_dim = 128
  config.method.num_prototypes = 100
  config.method.temperature = 0.1
  config.method.iterations = 3
  config.method.epsilon = 0.05
  config.method.queue_size = 1024
  config.method.queue_start_steps = 60
  config.method.freeze_last_layer_steps = 20
  config.optim.name = "lars"
  config.optim.lr = 0.6
  config.optim.weight_decay = 1e-6
  config.optim.warmup_steps = 20
  if args.smoke:
    configs_lib.make_smoke(config)
    # Exercise both sides of the queue and the prototype freeze.
    config.method.queue_start_steps = 2
    config.method.freeze_last_layer_steps = 1
  return config
