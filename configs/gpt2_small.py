r"""GPT-2 small (124M) next-token prediction on C4 (web text, as WebText).

Command:
  python -m jaxssl.main --config configs/gpt2_small.py \
      --workdir /tmp/gpt2-small
  (`:smoke` for a seconds-long run: batch 16, 3 steps, gpt2_tiny.)

Data: TFDS `c4/en` (an open web-text corpus standing in for OpenAI's
WebText; download it first with `tfds build`), documents packed into
windows of 1024 tokens with <|endoftext|> between them. Tokenizer: set
`--config.data.tokenizer_path` to GPT-2's `tokenizer.json` (50257 BPE
pieces) to reuse its vocabulary; otherwise a 50257 byte-level BPE is
trained on the train split at first use (which reads it into memory).

Recipe: GPT-2 small (Radford et al. 2019: d 768, 12 layers, 12 heads,
1024 positions, tied embeddings) with the training recipe of nanoGPT's
reproduction on OpenWebText (karpathy/nanoGPT `train_gpt2.py` config):
about 0.5M tokens per step (batch 480 x 1024), AdamW lr 6e-4, b2 0.95,
weight decay 0.1, 2000 warm-up steps, cosine to 10% over 600k steps,
gradient clipping 1. nanoGPT trains without dropout; so does this config.

Published: nanoGPT reaches a validation loss of ~2.85 on OpenWebText
(GPT-2 small's own checkpoint: 3.11 there). Measured: not yet measured
(about 4 days on 8 A100s at this size).
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("gpt")
  config.data.name = "c4/en"
  config.data.train_split = "train"
  config.data.eval_split = "validation"
  config.data.text_key = "text"
  config.data.tokenizer = "bpe"
  config.data.vocab_size = 50257
  config.data.seq_len = 1024
  config.model.name = "gpt2_small"
  config.method.dropout = 0.0
  config.method.attention_dropout = 0.0
  config.train.batch_size = 480
  config.train.total_steps = 600_000
  config.train.log_every_steps = 100
  config.train.ckpt_every_steps = 5_000
  config.train.eval_every_steps = 25_000
  config.optim.name = "adamw"
  config.optim.lr = 6e-4
  config.optim.lr_scaling = "none"
  config.optim.b2 = 0.95
  config.optim.weight_decay = 0.1
  config.optim.warmup_steps = 2_000
  config.optim.end_lr_ratio = 0.1
  config.optim.clip_grad_norm = 1.0
  if args.smoke:
    config.model.name = "gpt2_tiny"
    configs_lib.make_smoke(config)
    config.data.name = "embedded_text"
    config.data.train_split, config.data.eval_split = "train", "test"
  return config
