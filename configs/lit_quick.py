r"""LiT on the embedded captioned digits: clip_quick with a locked image tower.

Commands (train the image tower first: the quickstart's SimCLR on the
embedded digits, the same 32 x 32 images and tiny_resnet as clip_quick):
  python -m jaxssl.main --config configs/quickstart.py \
      --workdir /tmp/jaxssl-quick
  python -m jaxssl.main --config configs/lit_quick.py \
      --workdir /tmp/lit-quick
  (`:image_run=DIR` loads another finished image run; `:smoke` for a
  seconds-long run, which still needs that run.)

Recipe: LiT (Zhai et al., arXiv:2111.07991; big_vision
`configs/proj/image_text/siglip_lit_coco.py` freezes `img/.*`): clip_quick
(symmetric InfoNCE, learned logit scale from 1/0.07 clipped at 100, AdamW
lr 2e-3, batch 128) with `config.method.freeze_image_tower`: the image
tower's params (a frozen parameter group) and BatchNorm statistics (run in
inference mode) come from the SimCLR run through `config.train.init_from`
and never change; its projection into the joint space and the text tower
train. 600 steps: only the text side learns.

Expected: zero-shot top-1 above chance (10%); compare with clip_quick
(26.1% at 1200 steps, 13.7% at 600) in the README's image-text section.
"""

import os

from jaxssl import configs_lib

_CLIP_QUICK = os.path.join(os.path.dirname(__file__), "clip_quick.py")


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, image_run="/tmp/jaxssl-quick")
  config = configs_lib.load(_CLIP_QUICK, "smoke" if args.smoke else None)
  config.method.freeze_image_tower = True
  config.train.total_steps = 3 if args.smoke else 600
  config.train.init_from = args.image_run
  config.train.init_from_map = (
    "params/image=params/backbone,extra/batch_stats=extra/batch_stats/backbone"
  )
  return config
