"""The evaluation-protocol interface.

A protocol is a function `build(context) -> Evaluator`, registered by name
in `jaxssl.evals.PROTOCOLS`. The loop builds the protocols a method declares
(`Method.protocols`, or the subset `config.eval.protocols` names) once per
run, scores the baselines once at step 0 and the method's state at every
evaluation, and never looks inside the metrics. An evaluator may also have
an optional `texts(state) -> {name: str}` (looked up with getattr): text
it writes of the state at each evaluation (e.g. sampled continuations),
which the loop logs and saves under `<workdir>/samples/` and as
TensorBoard text.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from jaxssl.data.kinds import DataKind, DatasetInfo


@dataclasses.dataclass(frozen=True)
class Context:
  """What a protocol is built from.

  Attributes:
    config: the run's (validated) config.
    method: the `jaxssl.methods.Method`.
    mesh: the run's ("data", "model") mesh.
    info: the dataset's `DatasetInfo`.
    kind: the run's `DataKind` (its `eval_batches` feed the protocol).
  """

  config: Any
  method: Any
  mesh: Any
  info: DatasetInfo
  kind: DataKind


class Evaluator(Protocol):
  """A built protocol."""

  def evaluate(self, state, *, final: bool = False) -> dict[str, float]:
    """Metrics of `state`, keyed `eval/<metric>` (e.g. eval/knn_top1).

    `final` is True for the evaluation at the end of the run, which may use
    more data than the periodic ones (`eval.final_max_train_examples`).
    """

  def baselines(self, state) -> dict[str, float]:
    """Reference scores at initialisation (`state` is the step-0 state).

    Scored as the final evaluation is (`evaluate(..., final=True)`), so
    that the end-of-run metrics and their baselines are comparable.

    Keys are `eval/<metric>_<baseline>`, the baseline one of
    `BASELINES` (e.g. eval/knn_top1_raw_pixels), so that summaries can
    put each beside the metric it is a reference for.
    """


# Baseline suffixes, in the order summaries list them.
BASELINES = ("random_init", "raw_pixels", "pca", "tfidf", "unigram", "bigram")

# The summary table's row label of each baseline.
BASELINE_LABELS = {
  "random_init": "random-init encoder",
  "raw_pixels": "raw pixels",
  "pca": "PCA of raw pixels",
  "tfidf": "TF-IDF",
  "unigram": "unigram",
  "bigram": "bigram (add-one)",
}
