"""Evaluation protocols, in a plain registry; and the numerics they use.

  PROTOCOLS["representation"]  frozen-feature kNN and linear probe of the
      backbone, beside a random-init encoder, raw pixels and PCA of the raw
      pixels (`evals.representation`)
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

`build(context)` returns the evaluators a run uses: the protocols the
method declares (`Method.protocols`), or the subset `config.eval.protocols`
names. The numerics (`knn`, `linear`) are pure functions of arrays. Adding
a protocol is a module with a `build(context) -> Evaluator` (see
`evals.base`) and an entry in `PROTOCOLS`; the loop is not edited.
"""

from __future__ import annotations

from collections.abc import Callable

from jaxssl.evals import finetune, language, representation, sentence, zeroshot
from jaxssl.evals.base import BASELINE_LABELS, BASELINES, Context, Evaluator

__all__ = [
  "BASELINES",
  "BASELINE_LABELS",
  "PROTOCOLS",
  "Context",
  "Evaluator",
  "build",
]

PROTOCOLS: dict[str, Callable[[Context], Evaluator]] = {
  "representation": representation.build,
  "mlm": language.build_mlm,
  "next_token": language.build_next_token,
  "sentence": sentence.build,
  "zeroshot": zeroshot.build,
  "finetune": finetune.build,
}

# Protocols never run by default (costly), fit for the methods declaring the
# protocol they map to.
OPT_IN = {"finetune": "representation"}


def selected(config, method) -> tuple[str, ...]:
  """The protocol names a run uses; a ValueError naming the key if unfit."""
  chosen = tuple(config.eval.protocols) or tuple(method.protocols)
  for name in chosen:
    if name not in PROTOCOLS:
      raise ValueError(
        f"config.eval.protocols: {name!r} is not one of {sorted(PROTOCOLS)}"
      )
    fits = OPT_IN.get(name, name) in method.protocols
    if not fits:
      raise ValueError(
        f"config.eval.protocols: {name!r} does not fit method "
        f"{method.name!r}, which declares {list(method.protocols)}"
      )
  return chosen


def build(context: Context) -> dict[str, Evaluator]:
  """{name: evaluator} of the protocols `context`'s run uses."""
  return {
    name: PROTOCOLS[name](context)
    for name in selected(context.config, context.method)
  }
