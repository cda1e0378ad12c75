r"""Supervised SimCSE with a BERT-base encoder on NLI triples (the paper's).

Command:
  python -m jaxssl.main --config configs/simcse_sup_bert_base.py \
      --workdir /tmp/simcse-sup-bert-base \
      --config.data.data_dir=/path/to/nli_for_simcse.csv
  (`:smoke` for a seconds-long run: batch 16, 3 steps, bert_tiny, on
  WordNet pairs: apt-get install wordnet-base.)

Data: the SimCSE repository's `nli_for_simcse.csv` (`data/download_nli.sh`:
275,601 SNLI + MNLI rows `sent0,sent1,hard_neg`: premise, entailment,
contradiction) read by `data.name="text_pairs"`; one file is split 90/10 by
premise (or point `data_dir` at a folder of `train.csv` / `test.csv`).
Windows of 32 tokens, one sentence each (`--max_seq_length 32`).
Tokenizer: the bert-base-uncased `tokenizer.json` through
`--config.data.tokenizer_path` (or a 30522 WordPiece trained here).

Recipe: supervised SimCSE (Gao et al., arXiv:2104.08821; official
princeton-nlp/SimCSE `run_sup_example.sh`): bert_base, [CLS] through the
MLP pooler in training and evaluation (`--pooler_type cls`, no
`--mlp_only_train`), temperature 0.05, hard negatives in every
denominator (`hard_negative_weight` 0), batch 512 (4 GPUs x 128), lr 5e-5
(AdamW, no weight decay, no warm-up; linear decay there, cosine here), 3
epochs: ~1,450 steps of the 90% train split (1,615 on all rows). The paper
starts from the pretrained BERT-base checkpoint; jaxssl has no checkpoint
import yet, so this trains from scratch (or after `bert_mlm_base.py`,
`train.init_from`), far from the published score.

Published: average Spearman 81.57 over the seven STS tasks (STS-B 84.25,
SICK-R 80.39; the paper's Table 5) from a pretrained BERT-base. Measured:
not yet measured (no NLI data on the CPU machines; the WordNet figures of
`simcse_sup_quick.py` are in the README).
"""

from jaxssl import configs_lib


def get_config(arg=None):
  args = configs_lib.parse_arg(arg, smoke=False)
  config = configs_lib.base_config("simcse")
  config.data.name = "text_pairs"
  config.data.data_dir = "data/nli_for_simcse.csv"
  config.data.hard_negatives = True
  config.data.tokenizer = "wordpiece"
  config.data.vocab_size = 30522
  config.data.seq_len = 32
  config.model.name = "bert_base"
  config.method.supervised = True
  config.method.mlp_only_train = False
  config.method.temperature = 0.05
  config.train.batch_size = 512
  config.train.total_steps = 1_450
  config.train.log_every_steps = 25
  config.train.ckpt_every_steps = 250
  config.train.eval_every_steps = 250
  config.optim.name = "adamw"
  config.optim.lr = 5e-5
  config.optim.lr_scaling = "none"
  config.optim.weight_decay = 0.0
  config.optim.warmup_steps = 0
  if args.smoke:
    config.model.name = "bert_tiny"
    configs_lib.make_smoke(config)
    config.data.name = "wordnet_pairs"
    config.data.data_dir = "/usr/share/wordnet"
  return config
