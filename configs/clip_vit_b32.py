r"""CLIP ViT-B/32: the paper's recipe (Radford et al. 2021), on your pairs.

Command (an image_text_folder of your pairs, or any TFDS image-text set:
`--config.data.name=coco_captions` or another with `data.text_key`):
  python -m jaxssl.main --config configs/clip_vit_b32.py \
      --config.data.data_dir=/data/pairs --workdir /tmp/clip-b32
  (`:smoke` for a seconds-long run: tiny towers, batch 16, 3 steps.)

Data: none ships at this scale (CLIP's 400M-pair WIT is not public; LAION
or DataComp are the open stand-ins): an `image_text_folder` in
`data.data_dir` by default. 224 px, CLIP's channel mean / std; the only
augmentation a random crop of 0.9-1 of the area (open_clip's; the paper:
"a random square crop from resized images"). Tokens: a 49408-piece
byte-level BPE trained on the train captions (or
`--config.data.tokenizer_path` to a tokenizer.json of CLIP's own), 77
positions, the sentence embedding at the last token (<|endoftext|>).

Recipe: arXiv:2103.00020 Sec. 2.5 and Tables 19-20: ViT-B/32 image tower (cls
token), a 12-layer, 512-wide, 8-head pre-LN text Transformer
(bert_l12_h512: bidirectional here, CLIP's is causal), 512-d joint space;
the logit scale from 1/0.07 clipped at 100; batch 32,768; AdamW lr 5e-4
(no scaling), b1 0.9, b2 0.98, eps 1e-6, weight decay 0.2 (not on gains,
biases, the scale); 2000 warm-up steps, cosine to 0; 32 epochs over 400M
pairs = 390,625 steps (`:epochs=`, `:pairs=`; a smaller set keeps the
number of pairs seen unless you set them).

Published: 63.2% zero-shot ImageNet top-1 for CLIP ViT-B/32 (openai/CLIP
model card; with its 80 ImageNet templates, here
`--config.eval.zeroshot_templates=clip_imagenet`). Not run here.
`jaxssl.bench --compile_only` (with a 49408-piece tokenizer.json):
151.3M parameters (OpenAI's B/32: 151.28M), 44.6 GFLOP per pair per train
step (XLA's count, forward + backward).
"""

from jaxssl import configs_lib

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def get_config(arg=None):
  args = configs_lib.parse_arg(
    arg, smoke=False, epochs=32, pairs=400_000_000, batch_size=32768
  )
  config = configs_lib.base_config("clip")
  d = config.data
  d.name = "image_text_folder"
  d.image_size = 224
  d.mean, d.std = CLIP_MEAN, CLIP_STD
  d.crop_scale = (0.9, 1.0)
  d.tokenizer = "bpe"
  d.vocab_size = 49408
  d.seq_len = 77
  config.model.name = "vit_base"
  config.model.patch_size = 32
  config.model.vit_pool = "cls"
  m = config.method
  m.text_model = "bert_l12_h512"
  m.pre_ln = True
  m.text_pool = "last"
  m.max_positions = 77
  m.embed_dim = 512
  m.dropout = m.attention_dropout = 0.0
  t = config.train
  t.batch_size = args.batch_size
  t.total_steps = args.epochs * args.pairs // args.batch_size
  t.log_every_steps = 100
  t.ckpt_every_steps = 5000
  t.eval_every_steps = 0
  o = config.optim
  o.name = "adamw"
  o.lr = 5e-4
  o.lr_scaling = "none"
  o.b1, o.b2, o.eps = 0.9, 0.98, 1e-6
  o.weight_decay = 0.2
  o.warmup_steps = min(2000, t.total_steps)
  o.end_lr_ratio = 0.0
  config.eval.protocols = ("zeroshot",)
  if args.smoke:
    config.model.name = "vit_tiny"
    config.model.patch_size = 16
    m.text_model = "bert_tiny"
    d.vocab_size = 512
    configs_lib.make_smoke(config, image_size=64)
  return config
