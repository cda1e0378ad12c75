r"""Unsupervised SimCSE with a BERT-base encoder on English Wikipedia.

Command:
  python -m jaxssl.main --config configs/simcse_bert_base.py \
      --workdir /tmp/simcse-bert-base
  (`:smoke` for a seconds-long run: batch 16, 3 steps, bert_tiny.)

Data: TFDS `wikipedia/20230601.en` (download it first with `tfds build`),
windows of 32 tokens ([CLS] piece [SEP]): the paper trains on 1M sentences
sampled from Wikipedia (`wiki1m_for_simcse.txt`, one sentence per line,
max 32 tokens), which `data.name="text_folder"` reads as a plain `.txt`
file. Tokenizer: the bert-base-uncased `tokenizer.json` through
`--config.data.tokenizer_path` (or a 30522 WordPiece trained here).

Recipe: unsupervised SimCSE (Gao et al., arXiv:2104.08821; official
princeton-nlp/SimCSE `run_unsup_example.sh`): bert_base, dropout 0.1 as
the only augmentation, [CLS] with the MLP pooler in training only
(`--mlp_only_train`, evaluated `cls_before_pooler`), temperature 0.05,
batch 64, lr 3e-5 (AdamW, linear warm-up 0 in the paper), 1 epoch of 1M
sentences = 15.6k steps. The paper starts from the pretrained BERT-base
checkpoint; jaxssl has no checkpoint import yet, so this config trains
from scratch (or after `bert_mlm_base.py`), far from the published score.

Published: average Spearman 76.25 over the seven STS tasks (STS-B 76.85;
the paper's Table 5) from a pretrained BERT-base. Measured: not yet
measured.
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("simcse")
  config.data.name = "wikipedia/20230601.en"
  config.data.train_split = "train[:99%]"
  config.data.eval_split = "train[99%:]"
  config.data.text_key = "text"
  config.data.tokenizer = "wordpiece"
  config.data.vocab_size = 30522
  config.data.seq_len = 32
  config.model.name = "bert_base"
  config.method.temperature = 0.05
  config.train.batch_size = 64
  config.train.total_steps = 15_625
  config.train.log_every_steps = 100
  config.train.ckpt_every_steps = 2_500
  config.train.eval_every_steps = 2_500
  config.optim.name = "adamw"
  config.optim.lr = 3e-5
  config.optim.lr_scaling = "none"
  config.optim.weight_decay = 0.0
  config.optim.warmup_steps = 0
  if args.smoke:
    config.model.name = "bert_tiny"
    configs_lib.make_smoke(config)
    config.data.name = "embedded_text"
    config.data.train_split, config.data.eval_split = "train", "test"
  return config
