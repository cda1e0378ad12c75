r"""BERT-base masked-language modelling on English Wikipedia (the paper).

Command:
  python -m jaxssl.main --config configs/bert_mlm_base.py \
      --workdir /tmp/bert-mlm-base
  (`:smoke` for a seconds-long run: batch 16, 3 steps, bert_tiny.)

Data: TFDS `wikipedia/20230601.en` (download it first with `tfds build`;
99% of its train split to train on, 1% held out), windows of 128 tokens
([CLS] piece [SEP]). Tokenizer: set `--config.data.tokenizer_path` to the
bert-base-uncased `tokenizer.json` (30522 pieces) to reuse BERT's
vocabulary; otherwise a 30522 WordPiece is trained on the train split at
first use (which reads the whole split into memory).

Recipe: BERT-base (Devlin et al., arXiv:1810.04805, google-research/bert
`run_pretraining.py`): bert_base (110M), 15% masking 80/10/10, batch 256 x
128 tokens, AdamW lr 1e-4, b2 0.999, weight decay 0.01, 10k warm-up steps,
1M steps, dropout 0.1, gradient clipping 1. Differences: the paper decays
the lr linearly (here a cosine), trains 90% of the steps at 128 tokens and
10% at 512, and adds next-sentence prediction (left out, as RoBERTa).

Published: GLUE average 79.6 after fine-tuning (the paper's Table 1; GLUE
is not a jaxssl protocol). Measured: not yet measured (about 4 days on
16 TPU v3 chips at this size).
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("bert_mlm")
  config.data.name = "wikipedia/20230601.en"
  config.data.train_split = "train[:99%]"
  config.data.eval_split = "train[99%:]"
  config.data.text_key = "text"
  config.data.tokenizer = "wordpiece"
  config.data.vocab_size = 30522
  config.data.seq_len = 128
  config.model.name = "bert_base"
  config.method.mask_rate = 0.15
  config.train.batch_size = 256
  config.train.total_steps = 1_000_000
  config.train.log_every_steps = 100
  config.train.ckpt_every_steps = 10_000
  config.train.eval_every_steps = 50_000
  config.optim.name = "adamw"
  config.optim.lr = 1e-4
  config.optim.lr_scaling = "none"
  config.optim.weight_decay = 0.01
  config.optim.warmup_steps = 10_000
  config.optim.clip_grad_norm = 1.0
  if args.smoke:
    config.model.name = "bert_tiny"
    configs_lib.make_smoke(config)
    config.data.name = "embedded_text"
    config.data.train_split, config.data.eval_split = "train", "test"
  return config
