r"""BERT masked-language modelling on the embedded English corpus: CPU minutes.

Command:
  python -m jaxssl.main --config configs/bert_mlm_quick.py \
      --workdir /tmp/bert-mlm-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Data: the embedded corpus (Python's own documentation and docstrings,
~187k train tokens), a WordPiece vocabulary of 4096 trained on its train
split, windows of 64 tokens ([CLS] piece [SEP], one document each).
Model: bert_tiny (d 128, 2 post-LN blocks, 2 heads; Turc et al.,
arXiv:1908.08962), 64 positions, dropout 0.1. The logits over the
vocabulary dominate the cost at this width (4096 x 128 per token against
~0.4M body weights), hence the small vocabulary.

Recipe: BERT's (Devlin et al., arXiv:1810.04805): 15% of the tokens
selected, 80% [MASK] / 10% random / 10% kept, AdamW (b2 0.999, wd 0.01)
with linear warm-up then cosine; lr 1e-3 (ten times BERT-base's 1e-4, as
small BERTs take) for 400 steps at batch 32 (~4 passes over the corpus),
gradient clipping at 1.

Measured (2-core CPU shared with other jobs, 1 device, before the text
protocols existed): 400 steps in 1002 s of training (13.9 windows/s);
training loss 7.8 at step 20 (ln 4096 = 8.3 at init), 5.3-5.7 over the
last 60 steps, masked-token accuracy on the training batches 0.12-0.17.
With the protocols (2026-12-02, same machine, 675 s of training): held-out
eval/mlm_accuracy 16.4% vs 7.0% unigram, eval/mlm_perplexity 257 vs 384;
eval/retrieval_top1 ([CLS]) 3.4% vs 7.1% random init, 8.7% TF-IDF.
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("bert_mlm")
  config.data.tokenizer = "wordpiece"
  config.data.vocab_size = 4096
  config.data.seq_len = 64
  config.model.name = "bert_tiny"
  config.method.max_positions = 64
  config.method.mask_rate = 0.15
  config.train.batch_size = 32
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
