r"""GPT next-token prediction on the embedded English corpus: CPU minutes.

Command:
  python -m jaxssl.main --config configs/gpt_quick.py --workdir /tmp/gpt-quick
  (`:smoke` for a seconds-long run: batch 16, 3 steps.)

Data: the embedded corpus (Python's own documentation and docstrings,
~187k train tokens), a byte-level BPE vocabulary of 4096 trained on its
train split, documents packed end to end (<|endoftext|> between them) into
windows of 64 tokens. Model: gpt2_tiny (d 128, 2 pre-LN blocks, 2 heads,
tied embeddings), 64 positions, dropout 0.1.

Recipe: GPT-2's (Radford et al. 2019) objective and init; AdamW (b2 0.95
as nanoGPT, wd 0.1) with linear warm-up then cosine, lr 1e-3 for 400 steps
at batch 32 (~4 passes over the corpus), gradient clipping at 1.

Measured (2-core CPU shared with other jobs, 1 device, before the text
protocols existed): 400 steps in 753 s of training (17.8 windows/s);
training loss 7.8 at step 20 (ln 4096 = 8.3 at init), 5.1-5.4 over the
last 60 steps (training perplexity ~180), next-token accuracy ~0.18; the
held-out perplexity against the bigram baseline is the protocol's.
With the protocols (2026-12-02, same machine, 377 s of training): held-out
eval/perplexity 243 vs 826 unigram and 823 bigram (add-one, weak at vocab
4096 on 176k tokens); eval/retrieval_top1 (mean pooling) 3.3%, as random
init, vs 9.2% TF-IDF.
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("gpt")
  config.data.tokenizer = "bpe"
  config.data.vocab_size = 4096
  config.data.seq_len = 64
  config.model.name = "gpt2_tiny"
  config.method.max_positions = 64
  config.train.batch_size = 32
  config.train.total_steps = 400
  config.train.log_every_steps = 20
  config.train.ckpt_every_steps = 200
  config.optim.name = "adamw"
  config.optim.lr = 1e-3
  config.optim.lr_scaling = "none"
  config.optim.b2 = 0.95
  config.optim.weight_decay = 0.1
  config.optim.warmup_steps = 40
  config.optim.clip_grad_norm = 1.0
  # The probes' bank: the embedded corpus has fewer windows (3,224); the
  # larger corpora (Python docs ~46k, WordNet ~107k) are capped, since the
  # TF-IDF linear baseline on all of them takes tens of CPU minutes.
  config.eval.max_train_examples = 10_000
  if args.smoke:
    configs_lib.make_smoke(config)
  return config
