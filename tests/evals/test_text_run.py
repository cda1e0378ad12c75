"""The text protocols through `train.run`: metric names, baselines, samples.

The test-only `text_toy` method (a bigram LM, see `text_testing`) declares
`mlm`, `next_token` and `sentence`; it trains a few steps on the embedded
corpus on the 8-device mesh with an evaluation midway and at the end.
"""

import glob
import os

import pytest
import text_testing
from text_testing import text_toy  # noqa: F401 (fixture)

from jaxssl import train
from jaxssl.train import baselines as baselines_lib
from jaxssl.train import loop, writer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("text_toy")]

METRICS = {
  "eval/mlm_accuracy",
  "eval/mlm_perplexity",
  "eval/perplexity",
  "eval/retrieval_top1",
  "eval/alignment",
  "eval/uniformity",
}
BASELINES = {
  "eval/mlm_accuracy_unigram",
  "eval/mlm_perplexity_unigram",
  "eval/perplexity_unigram",
  "eval/perplexity_bigram",
  "eval/retrieval_top1_random_init",
  "eval/alignment_random_init",
  "eval/uniformity_random_init",
  "eval/retrieval_top1_tfidf",
  "eval/alignment_tfidf",
  "eval/uniformity_tfidf",
}


def _tensorboard_texts(workdir):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  out = {}
  for path in glob.glob(os.path.join(workdir, "tb", "events.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for v in event.summary.value:
        if v.metadata.plugin_data.plugin_name == "text":
          text = tf.make_ndarray(v.tensor).item().decode()
          out[(v.tag, event.step)] = text
  return out


def test_text_protocols_write_every_metric_baseline_and_sample(
  tmp_path, capsys
):
  c = text_testing.config(
    "trained",
    **{
      "train.total_steps": 4,
      "train.eval_every_steps": 2,
      "train.log_every_steps": 2,
      "train.ckpt_every_steps": 100,
      "train.progress_bar": False,
      "optim.name": "adamw",
      "optim.lr": 0.05,
      "optim.lr_scaling": "none",
      "optim.warmup_steps": 0,
      "eval.sample_tokens": 8,
    },
  )
  workdir = str(tmp_path / "run")
  summary = train.run(c, workdir)
  rows = [r for r in writer.read_metrics(workdir) if "eval/perplexity" in r]
  assert [r["step"] for r in rows] == [2, 4]
  for r in rows:
    assert set(r) >= METRICS, METRICS - set(r)
  assert set(summary) >= METRICS | BASELINES
  assert set(baselines_lib.load(workdir)) == BASELINES
  assert summary["eval/perplexity_bigram"] < summary["eval/perplexity_unigram"]
  table = loop.format_summary(summary, "text_toy", c)
  for label in ("unigram", "bigram (add-one)", "TF-IDF", "random-init"):
    assert label in table, table
  assert "%" not in table.split("eval/perplexity")[0].splitlines()[-1]

  # Samples: the log, <workdir>/samples/ and TensorBoard, at both steps.
  logged = capsys.readouterr().out
  for step in (2, 4):
    path = os.path.join(workdir, "samples", f"next_token_samples_{step}.txt")
    with open(path, encoding="utf-8") as f:
      text = f.read()
    assert text.count("prompt:") == 3 and text.count("continuation:") == 3
    assert f"next_token_samples at step {step}:\n{text.rstrip()}" in logged
  texts = _tensorboard_texts(workdir)
  assert {("next_token_samples", 2), ("next_token_samples", 4)} <= set(texts)
  assert "continuation:" in texts[("next_token_samples", 4)]
