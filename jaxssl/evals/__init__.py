"""Evaluation protocols, in a plain registry; and the numerics they use.

  PROTOCOLS["representation"]  frozen-feature kNN and linear probe of the
      backbone, beside a random-init encoder, raw pixels and PCA of the raw
      pixels (`evals.representation`)
  PROTOCOLS["fewshot"]         linear probes on 1, 5, 10 and 25 labelled
      examples per class of the frozen features, mean and std over 5 fixed
      draws (`evals.fewshot`)
  PROTOCOLS["diagnostics"]     alignment, uniformity and RankMe of the
      frozen features (`evals.diagnostics`)
  PROTOCOLS["mlm"]             masked-token accuracy and perplexity on
      held-out windows, beside a unigram (`evals.language`)
  PROTOCOLS["next_token"]      held-out next-token perplexity beside add-one
      unigram and bigram models, and sampled continuations (`evals.language`)
  PROTOCOLS["sentence"]        paragraph-half retrieval, alignment /
      uniformity and, with labels, kNN and linear probe of sentence
      embeddings, beside a random-init encoder and TF-IDF (`evals.sentence`)
  PROTOCOLS["zeroshot"]        zero-shot top-1 through class-name prompts
      and image-caption retrieval recall@1/5/10 of an image-text method's
      joint embeddings, beside its random-init towers (`evals.zeroshot`)
  PROTOCOLS["finetune"]        the whole backbone + a linear head fine-tuned
      on 1% / 10% / 100% of the labels, beside the same from random init
      (`evals.finetune`); opt-in (`config.eval.protocols`), for every
      method that declares "representation"
  PROTOCOLS["linear_sgd"]      the papers' linear evaluation: a linear head
      trained by SGD / LARS on the frozen backbone's features of augmented
      (crop + flip) training images, top-1/5 on the centre-cropped eval
      split, beside a random-init encoder (`evals.linear_sgd`); opt-in,
      for every method that declares "representation"

`build(context)` returns the evaluators a run uses: the protocols the
method declares (`Method.protocols`) but those in `ON_REQUEST`, or the
subset `config.eval.protocols` names (which may name `ON_REQUEST` ones).
`python -m jaxssl.eval` scores any declared protocol on a finished run.
The numerics (`knn`, `linear`) are pure functions of arrays. Adding
a protocol is a module with a `build(context) -> Evaluator` (see
`evals.base`) and an entry in `PROTOCOLS`; the loop is not edited.
"""

from __future__ import annotations

from collections.abc import Callable

from jaxssl.evals import (
  diagnostics,
  fewshot,
  finetune,
  language,
  linear_sgd,
  representation,
  sentence,
  zeroshot,
)
from jaxssl.evals.base import BASELINE_LABELS, BASELINES, Context, Evaluator

__all__ = [
  "BASELINES",
  "BASELINE_LABELS",
  "ON_REQUEST",
  "PROTOCOLS",
  "Context",
  "Evaluator",
  "build",
]

PROTOCOLS: dict[str, Callable[[Context], Evaluator]] = {
  "representation": representation.build,
  "fewshot": fewshot.build,
  "diagnostics": diagnostics.build,
  "mlm": language.build_mlm,
  "next_token": language.build_next_token,
  "sentence": sentence.build,
  "zeroshot": zeroshot.build,
  "finetune": finetune.build,
  "linear_sgd": linear_sgd.build,
}

# Protocols that no method declares and never run by default (costly),
# fit for the methods declaring the protocol they map to.
OPT_IN = {"finetune": "representation", "linear_sgd": "representation"}


# Protocols that fit but that a run scores only when `config.eval.protocols`
# (or `python -m jaxssl.eval --protocol`) names them: each fits 20 few-shot
# probes or draws augmented views, more than every periodic evaluation of
# every run (and every smoke test) should pay.
ON_REQUEST = ("fewshot", "diagnostics")


def check(names, method, key: str = "config.eval.protocols") -> None:
  """A ValueError naming `key` for a protocol unknown or unfit to `method`."""
  for name in names:
    if name not in PROTOCOLS:
      raise ValueError(f"{key}: {name!r} is not one of {sorted(PROTOCOLS)}")
    if OPT_IN.get(name, name) not in method.protocols:
      raise ValueError(
        f"{key}: {name!r} does not fit method "
        f"{method.name!r}, which declares {list(method.protocols)}"
      )


def selected(config, method) -> tuple[str, ...]:
  """The protocol names a run uses; a ValueError naming the key if unfit."""
  chosen = tuple(config.eval.protocols) or tuple(
    p for p in method.protocols if p not in ON_REQUEST
  )
  check(chosen, method)
  return chosen


def build(context: Context) -> dict[str, Evaluator]:
  """{name: evaluator} of the protocols `context`'s run uses."""
  return {
    name: PROTOCOLS[name](context)
    for name in selected(context.config, context.method)
  }
