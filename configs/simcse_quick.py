r"""Unsupervised SimCSE on the embedded English corpus: CPU minutes.

Command:
  python -m jaxssl.main --config configs/simcse_quick.py \
      --workdir /tmp/simcse-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Data: the embedded corpus (Python's own documentation and docstrings),
a WordPiece vocabulary of 4096 trained on its train split, windows of 64
tokens ([CLS] piece [SEP], one document each). Model: bert_tiny (d 128, 2
post-LN blocks, 2 heads), 64 positions, from scratch (the paper starts
from a pretrained BERT).

Recipe: unsupervised SimCSE (Gao et al., arXiv:2104.08821, official
princeton-nlp/SimCSE): each window twice through dropout 0.1, the MLP
pooler over [CLS] in training only, cosine / 0.05, in-batch negatives over
the global batch of 64; AdamW with linear warm-up then cosine, lr 1e-3
(the paper's 3e-5 is for fine-tuning a pretrained BERT) for 400 steps.

Measured (2-core CPU shared with other jobs, 1 device, before the text
protocols existed): 400 steps in 683 s of training (38.6 windows/s);
training loss 4.16 at step 20 (ln 64), 0.68-0.78 over the last 100 steps,
twin-finding accuracy 0.65-0.74, z_std 0.085 throughout (1/sqrt(128) =
0.088: no collapse). With the protocols (2026-12-02, same machine, 849 s
of training): eval/retrieval_top1 0.66% vs 7.7% random init and 8.7%
TF-IDF (chance 0.13%): from scratch it misses; see the README's text
section for the readout experiments. From a 1600-step bert_mlm_quick
checkpoint (`--config.train.init_from=DIR
--config.train.init_from_map=params/model=params/model
--config.method.text_pool=mean --config.optim.lr=3e-5`, 2026-12-03):
9.1% vs 8.9% random init, 8.7% TF-IDF, its MLM start 9.5%.
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("simcse")
  config.data.tokenizer = "wordpiece"
  config.data.vocab_size = 4096
  config.data.seq_len = 64
  config.model.name = "bert_tiny"
  config.method.max_positions = 64
  config.method.temperature = 0.05
  config.train.batch_size = 64
  config.train.total_steps = 400
  config.train.log_every_steps = 20
  config.train.ckpt_every_steps = 200
  config.optim.name = "adamw"
  config.optim.lr = 1e-3
  config.optim.lr_scaling = "none"
  config.optim.weight_decay = 0.01
  config.optim.warmup_steps = 40
  config.optim.clip_grad_norm = 1.0
  # The probes' bank: the embedded corpus has fewer windows (3,224); the
  # larger corpora (Python docs ~46k, WordNet ~107k) are capped, since the
  # TF-IDF linear baseline on all of them takes tens of CPU minutes.
  config.eval.max_train_examples = 10_000
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
