"""Protocols `mlm` and `next_token`: held-out language-model scores.

Both read `Method.logits` (inference mode) on the windows of
`config.data.eval_split` (kind `tokens`), in global batches of
`config.eval.batch_size` sharded over the mesh's "data" axis; each batch is
reduced on device to sums (cross-entropy, correct predictions, positions),
added up on the host in float64. V is the tokenizer's vocabulary size.

Protocol `mlm` (a model that predicts, at each position, the original
token there):
  Every eval window is corrupted by `jaxssl.masking.mask_tokens` (BERT's:
  each non-special token selected with probability 0.15, then 80% [MASK],
  10% a random token of [0, V), 10% unchanged; [PAD] [UNK] [CLS] [SEP]
  [MASK] never selected) with a key folded from the fixed `MASK_SEED` and a
  hash of the window's tokens, so a window is masked at the same positions
  at every evaluation, whatever the batch size, the batch it falls in or
  the number of hosts. Over the M selected positions i, with target t_i
  (the original token) and model distribution p_i = softmax(logits_i):
    eval/mlm_accuracy    100 / M * #{i : argmax logits_i = t_i}   (%)
    eval/mlm_perplexity  exp(-1 / M * sum_i log p_i(t_i))
  Baselines (the same positions): a unigram model of the train split's
  tokens, counts c(w) of the non-special tokens of its windows,
  p(w) = (c(w) + 1) / (sum c + V) (add-one smoothed):
    eval/mlm_accuracy_unigram    always predicting argmax_w c(w)
    eval/mlm_perplexity_unigram  exp(-1 / M * sum_i log p(t_i))

Protocol `next_token` (a causal model: position t predicts token t + 1):
  The targets are the tokens at positions 1..l-1 of each eval window that
  are not padding (is_pad False), each predicted from the window's earlier
  tokens; with N targets (u_i, w_i) (previous token, target):
    eval/perplexity  exp(-1 / N * sum_i log p_i(w_i))
  Baselines, fitted on the train split's windows with the same target
  positions (so neither model sees across a window's start), add-one
  smoothed over the V tokens; c(w) counts targets, c(u, w) pairs:
    eval/perplexity_unigram  p(w) = (c(w) + 1) / (sum c + V)
    eval/perplexity_bigram   p(w | u) = (c(u, w) + 1) / (sum_w' c(u, w') + V)
  Samples (`texts`, written to the log, `<workdir>/samples/` and
  TensorBoard): `config.eval.num_samples` prompts, the first seq_len // 2
  tokens of eval windows evenly spaced over the split (among those with that
  many real tokens), each continued by `config.eval.sample_tokens` tokens
  drawn from softmax(logits / `config.eval.sample_temperature`) (0: greedy)
  with a fixed seed; past seq_len tokens, the model sees the last seq_len.

The n-gram models are `jaxssl.evals.ngram`'s.

References:
  Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers for
  Language Understanding, arXiv:1810.04805 (masked-LM accuracy).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxssl import masking
from jaxssl.evals import ngram, sharded
from jaxssl.evals.base import Context
from jaxssl.train import mesh as mesh_lib

MASK_RATE = 0.15
MASK_SEED = 0
SAMPLE_SEED = 0
_HASH_BASE = 1_000_003  # an odd multiplier: a polynomial hash mod 2^32

# Masking --------------------------------------------------------------------


def window_keys(key: jax.Array, tokens: jax.Array) -> jax.Array:
  """One PRNG key per window [n, l]: `key` folded with a hash of its tokens."""
  length = tokens.shape[1]
  mult = np.ones(length, np.uint64)
  for i in range(1, length):
    mult[i] = (mult[i - 1] * _HASH_BASE) % (1 << 32)
  mult = jnp.asarray(mult.astype(np.uint32))
  h = jnp.sum(tokens.astype(jnp.uint32) * mult, axis=1, dtype=jnp.uint32)
  return jax.vmap(lambda x: jax.random.fold_in(key, x))(h)


def mask_windows(
  tokens: jax.Array,
  *,
  mask_id: int,
  vocab_size: int,
  special_ids,
  seed: int = MASK_SEED,
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """`masking.mask_tokens` of each window [n, l] under its `window_keys` key.

  Returns:
    (inputs, targets, is_masked), each [n, l], as `masking.mask_tokens`.
  """

  def one(k, row):
    out = masking.mask_tokens(
      k,
      row[None],
      mask_id=mask_id,
      vocab_size=vocab_size,
      rate=MASK_RATE,
      special_ids=tuple(special_ids),
    )
    return tuple(x[0] for x in out)

  return jax.vmap(one)(window_keys(jax.random.key(seed), tokens), tokens)


# Protocols ------------------------------------------------------------------


def _scores(logits: jax.Array, targets: jax.Array):
  """(nll, correct), each [n, l], of float logits [n, l, V] at `targets`."""
  log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  nll = -jnp.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
  return nll, jnp.argmax(logits, axis=-1) == targets


def _sums(nll, correct, where) -> dict[str, jax.Array]:
  """Sums over the positions `where` (elsewhere an inf nll never leaks)."""
  return {
    "nll": jnp.sum(jnp.where(where, nll, 0.0)),
    "correct": jnp.sum(jnp.where(where, correct, False)),
    "count": jnp.sum(where),
  }


class _TokenProtocol:
  """Shared set-up: the tokenizer, the windows and the eval pass."""

  name = ""

  def __init__(self, context: Context):
    from jaxssl.data.kinds import tokens  # pylint: disable=g-import-not-at-top

    c = context.config
    if c.data.kind != "tokens":
      raise ValueError(
        f"config.data.kind={c.data.kind!r}: protocol {self.name!r} reads "
        "kind 'tokens'"
      )
    if context.method.logits is None:
      raise ValueError(
        f"config.eval.protocols: {self.name!r} needs Method.logits, which "
        f"method {context.method.name!r} does not give"
      )
    mesh_lib.check_batch_size(
      c.eval.batch_size, context.mesh, "eval.batch_size"
    )
    self._config, self._mesh, self._kind = c, context.mesh, context.kind
    self._method = context.method
    self._tok, self._specials = tokens.get_tokenizer(c)
    self.vocab_size = self._tok.get_vocab_size()
    self._windows = lambda split: tokens.windows(c, split)
    self._replicated = mesh_lib.replicated(context.mesh)

  def _eval_pass(self, fn, state) -> dict[str, float]:
    """Sums of `fn(params, extra, batch)` over the eval split, float64."""
    c = self._config
    total: dict[str, float] = {}
    for host_batch in self._kind.eval_batches(
      c, c.data.eval_split, batch_size=c.eval.batch_size // jax.process_count()
    ):
      batch = mesh_lib.to_global(host_batch, self._mesh)
      out = jax.device_get(fn(state.params, state.extra, batch))
      for k, v in out.items():
        total[k] = total.get(k, 0.0) + float(v)
    return total

  @staticmethod
  def _metrics(sums, accuracy: str | None, perplexity: str) -> dict:
    n = max(sums["count"], 1.0)
    out = {perplexity: float(np.exp(sums["nll"] / n))}
    if accuracy:
      out[accuracy] = 100.0 * sums["correct"] / n
    return out


class MaskedLM(_TokenProtocol):
  """Protocol `mlm` (see the module docstring)."""

  name = "mlm"

  def __init__(self, context: Context):
    super().__init__(context)
    s = self._specials
    if s.mask is None:
      raise ValueError(
        f"config.data.tokenizer={self._config.data.tokenizer!r}: protocol "
        "'mlm' needs a [MASK] token (use 'wordpiece')"
      )
    corrupt = lambda t: mask_windows(
      t, mask_id=s.mask, vocab_size=self.vocab_size, special_ids=s.ids()
    )
    self.corrupt = jax.jit(corrupt)
    logits_fn = self._method.logits

    def model(params, extra, batch):
      inputs, targets, is_masked = corrupt(batch["tokens"])
      logits = logits_fn(params, extra, {**batch, "tokens": inputs})
      where = is_masked & batch["valid"][:, None]
      return _sums(*_scores(logits, targets), where)

    self._model = jax.jit(model, out_shardings=self._replicated)

  def evaluate(self, state, *, final: bool = False) -> dict[str, float]:
    """{"eval/mlm_accuracy" (%), "eval/mlm_perplexity"} of `state`."""
    del final  # the same held-out data at every evaluation
    sums = self._eval_pass(self._model, state)
    return self._metrics(sums, "eval/mlm_accuracy", "eval/mlm_perplexity")

  def unigram(self) -> tuple[np.ndarray, int]:
    """(log p [V], most frequent token) of the train split's unigram."""
    w = self._windows(self._config.data.train_split)
    counts = ngram.token_counts(
      w["tokens"],
      w["is_pad"],
      vocab_size=self.vocab_size,
      special_ids=self._specials.ids(),
    )
    return ngram.unigram_log_probs(counts), int(np.argmax(counts))

  def baselines(self, state) -> dict[str, float]:
    """The unigram's accuracy and perplexity on the same masked positions."""
    log_p, top = self.unigram()
    log_p = jnp.asarray(log_p, jnp.float32)
    corrupt = self.corrupt

    def unigram(params, extra, batch):
      del params, extra
      _, targets, is_masked = corrupt(batch["tokens"])
      where = is_masked & batch["valid"][:, None]
      return _sums(-log_p[targets], targets == top, where)

    fn = jax.jit(unigram, out_shardings=self._replicated)
    sums = self._eval_pass(fn, state)
    return self._metrics(
      sums, "eval/mlm_accuracy_unigram", "eval/mlm_perplexity_unigram"
    )


class NextToken(_TokenProtocol):
  """Protocol `next_token` (see the module docstring)."""

  name = "next_token"

  def __init__(self, context: Context):
    super().__init__(context)
    logits_fn = self._method.logits

    def model(params, extra, batch):
      logits = logits_fn(params, extra, batch)[:, :-1]
      where = ~batch["is_pad"][:, 1:] & batch["valid"][:, None]
      return _sums(*_scores(logits, batch["tokens"][:, 1:]), where)

    self._model = jax.jit(model, out_shardings=self._replicated)

    def last(params, extra, batch):
      pos = batch["pos"]
      batch = {k: v for k, v in batch.items() if k != "pos"}
      logits = logits_fn(params, extra, batch)
      return jnp.take_along_axis(logits, pos[:, None, None], axis=1)[:, 0]

    self._last = jax.jit(last, out_shardings=mesh_lib.data_sharding(self._mesh))

  def evaluate(self, state, *, final: bool = False) -> dict[str, float]:
    """{"eval/perplexity"} of `state` on the eval split."""
    del final  # the same held-out data at every evaluation
    return self._metrics(
      self._eval_pass(self._model, state), None, "eval/perplexity"
    )

  def baselines(self, state) -> dict[str, float]:
    """The add-one unigram and bigram of the train split."""
    del state
    d = self._config.data
    train = self._windows(d.train_split)
    query = self._windows(d.eval_split)
    train = (train["tokens"], train["is_pad"])
    query = (query["tokens"], query["is_pad"])
    v = self.vocab_size
    return {
      "eval/perplexity_unigram": ngram.unigram_perplexity(
        train, query, vocab_size=v
      ),
      "eval/perplexity_bigram": ngram.bigram_perplexity(
        train, query, vocab_size=v
      ),
    }

  def prompts(self) -> np.ndarray:
    """[k, seq_len // 2] prompt tokens (see the module docstring)."""
    c = self._config
    w = self._windows(c.data.eval_split)
    length = c.data.seq_len // 2
    ok = np.flatnonzero((~w["is_pad"]).sum(1) >= length)
    k = min(c.eval.num_samples, len(ok))
    pick = ok[np.linspace(0, len(ok) - 1, k).astype(int)] if k else ok[:0]
    return w["tokens"][pick, :length]

  def sample(self, state, prompts: np.ndarray) -> np.ndarray:
    """[k, sample_tokens] continuations of `prompts` [k, p] (see above)."""
    c = self._config
    seq_len, temperature = c.data.seq_len, c.eval.sample_temperature
    unit = sharded.batch_unit(self._mesh)
    b = -(-max(len(prompts), 1) // unit) * unit
    rng = np.random.default_rng(SAMPLE_SEED)
    seqs = np.asarray(prompts, np.int32)
    k, pad_id = len(seqs), self._specials.pad
    pad = {"tokens": pad_id, "is_pad": True, "label": -1}
    fn = lambda batch: self._last(state.params, state.extra, batch)
    for _ in range(c.eval.sample_tokens):
      window = seqs[:, -seq_len:]
      n = window.shape[1]
      rows = {
        "tokens": np.pad(
          window, ((0, 0), (0, seq_len - n)), "constant", constant_values=pad_id
        ),
        "is_pad": np.tile(np.arange(seq_len) >= n, (k, 1)),
        "label": np.full((k,), -1, np.int32),
        "pos": np.full((k,), n - 1, np.int32),
      }
      logits = sharded.map_rows(fn, rows, self._mesh, b, pad=pad)
      logits = logits.astype(np.float64)
      if temperature == 0:
        nxt = np.argmax(logits, axis=-1)
      else:
        z = logits / temperature
        prob = np.exp(z - z.max(-1, keepdims=True))
        prob /= prob.sum(-1, keepdims=True)
        nxt = np.array([rng.choice(len(q), p=q) for q in prob])
      seqs = np.concatenate([seqs, nxt[:, None].astype(np.int32)], axis=1)
    return seqs[:, prompts.shape[1] :]

  def texts(self, state) -> dict[str, str]:
    """{"next_token_samples": the decoded prompts and continuations}."""
    prompts = self.prompts()
    if not len(prompts) or not self._config.eval.sample_tokens:
      return {}
    out = self.sample(state, prompts)
    lines = []
    for i, (p, o) in enumerate(zip(prompts, out)):
      prompt = self._tok.decode(p.tolist())
      # Decoded together, a continuation that goes on with the prompt's
      # last word (a "##" piece, a BPE byte) joins it as in the text.
      whole = self._tok.decode(p.tolist() + o.tolist())
      rest = whole[len(prompt) :] if whole.startswith(prompt) else None
      if rest is None:
        rest = self._tok.decode(o.tolist())
      lines.append(f"[{i + 1}] prompt: {prompt}")
      lines.append(f"[{i + 1}] continuation: {rest.strip()}")
    return {"next_token_samples": "\n".join(lines)}


def build_mlm(context: Context) -> MaskedLM:
  return MaskedLM(context)


def build_next_token(context: Context) -> NextToken:
  return NextToken(context)
