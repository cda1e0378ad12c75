r"""SigLIP B/16 at 224 px: the paper's recipe (Zhai et al. 2023), your pairs.

Command (an image_text_folder of your pairs, or any TFDS image-text set:
`--config.data.name=coco_captions` or another with `data.text_key`):
  python -m jaxssl.main --config configs/siglip_b16.py \
      --config.data.data_dir=/data/pairs --workdir /tmp/siglip-b16
  (`:smoke` for a seconds-long run: tiny towers, batch 16, 3 steps.)

Data: none ships at this scale (SigLIP trains on WebLI, not public): an
`image_text_folder` in `data.data_dir` by default. 224 px scaled to
[-1, 1] (mean = std = 0.5), no augmentation; captions as 64 tokens of a
32,000-piece BPE trained on the train captions (SigLIP's is a 32k
SentencePiece; `--config.data.tokenizer_path` loads another), the
sentence embedding at the last token.

Recipe: arXiv:2303.15343 and big_vision's SigLIP trainer: the pairwise
sigmoid loss over the global batch with learned t = exp(t'), t' from log
10, and bias b from -10; batch 32,768 ("32k is sufficient", Sec. 4);
ViT-B/16 image tower (mean-pooled here: SigLIP's has a MAP head) and a
B-sized text Transformer (bert_base: 12 layers, d 768, 12 heads), 768-d
joint space; Adam(W) lr 1e-3, b2 0.95 (the paper's fix for large-batch
instability), weight decay 1e-4 (SigLIP 2's recipe: big_vision decays by
wd x schedule, optax's AdamW by lr x wd), 20k warm-up steps (SigLIP 2),
cosine to 0, gradient clip 1; `:billions=N` examples seen (default 40,
SigLIP 2's 40B), 1.22M steps.

Published: ~76% zero-shot ImageNet top-1 for SigLIP B/16 at 224 trained
on WebLI (arXiv:2303.15343; big_vision's released checkpoint). Not run
here. `jaxssl.bench --compile_only` (with a 32,000-piece tokenizer.json):
196.7M parameters, 139.4 GFLOP per pair per train step (XLA's count).
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False, billions=40, batch_size=32768)
  config = configs_lib.base_config("siglip")
  d = config.data
  d.name = "image_text_folder"
  d.image_size = 224
  d.mean, d.std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
  d.tokenizer = "bpe"
  d.vocab_size = 32000
  d.seq_len = 64
  config.model.name = "vit_base"
  config.model.patch_size = 16
  config.model.vit_pool = "mean"
  m = config.method
  m.text_model = "bert_base"
  m.pre_ln = True
  m.text_pool = "last"
  m.max_positions = 64
  m.embed_dim = 768
  m.dropout = m.attention_dropout = 0.0
  m.t_init, m.b_init = 10.0, -10.0
  t = config.train
  t.batch_size = args.batch_size
  t.total_steps = args.billions * 10**9 // args.batch_size
  t.log_every_steps = 100
  t.ckpt_every_steps = 5000
  t.eval_every_steps = 0
  o = config.optim
  o.name = "adamw"
  o.lr = 1e-3
  o.lr_scaling = "none"
  o.b1, o.b2 = 0.9, 0.95
  o.weight_decay = 1e-4
  o.warmup_steps = min(20_000, t.total_steps)
  o.end_lr_ratio = 0.0
  o.clip_grad_norm = 1.0
  config.eval.protocols = ("zeroshot",)
  if args.smoke:
    config.model.name = "vit_tiny"
    m.text_model = "bert_tiny"
    d.vocab_size = 512
    configs_lib.make_smoke(config, image_size=64)
  return config
