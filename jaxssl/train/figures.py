"""The pictures of a finished run: `<workdir>/figures/*.png` and TensorBoard.

`write_run_figures(...)` is called once by the loop at the end of a run
(`config.eval.figures`, on by default; off in smoke configs). It draws:

  learning_curves  `train/loss` and every `eval/*` metric of
                   `<workdir>/metrics.jsonl` over steps, one panel each, with
                   the run's baselines (`baselines.json`) as dashed lines;
  tsne             a 2-D scikit-learn t-SNE of the backbone features
                   (`Method.features`) of the first `config.eval.tsne_examples`
                   examples of the eval split, coloured by label (kinds whose
                   eval batches carry labels);
  views            the training inputs: for the `views` kind one column per
                   view of each group of `config.data.views`, for the other
                   image kinds the augmented training images (image-text:
                   with their captions);
  retrieval_i2t    image-text methods (`Method.encode_image` and
  retrieval_t2i    `encode_text`): a few eval images with their top
                   captions, and a few captions with their top images, among
                   the same examples as the t-SNE (the true match marked).

Each figure is rendered on matplotlib's Agg canvas (no GUI, no pyplot state)
into an RGB array and handed to `MetricWriter.write_images`, which saves it
as `<workdir>/figures/<name>_<step>.png` and a TensorBoard image. Feature
extraction runs on every process (it is a collective under a multi-host
mesh); only process 0 draws and writes. A figure that fails is logged as one
line and never fails the finished run.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxssl.train import baselines as baselines_lib
from jaxssl.train import mesh as mesh_lib
from jaxssl.train import writer as writer_lib

NUM_QUERIES = 4  # retrieval examples per direction
TOP_K = 5  # matches shown per retrieval query
VIEW_ROWS = 6  # training examples shown in the views figure


# Rendering --------------------------------------------------------------------


def new_figure(width: float, height: float):
  """A matplotlib Figure on an Agg canvas (no pyplot, no GUI backend)."""
  # Lazy: matplotlib costs ~0.5 s to import and only figures need it.
  from matplotlib import figure as figure_lib  # pylint: disable=g-import-not-at-top
  from matplotlib.backends import backend_agg  # pylint: disable=g-import-not-at-top

  fig = figure_lib.Figure(figsize=(width, height), dpi=100)
  backend_agg.FigureCanvasAgg(fig)
  return fig


def to_rgb(fig) -> np.ndarray:
  """float32 [H, W, 3] in [0, 1]: the figure rendered."""
  fig.canvas.draw()
  rgba = np.asarray(fig.canvas.buffer_rgba())
  return rgba[..., :3].astype(np.float32) / 255.0


# Learning curves --------------------------------------------------------------


def curves(rows: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{metric: (steps, values)} of `train/loss` and each `eval/*` metric.

  Args:
    rows: `metrics.jsonl` rows ({"step": int, metric: float or None}).
      Non-finite values (written as null) are left out; a step logged twice
      (a resumed run) keeps its last value.
  """
  keys = []
  for row in rows:
    for k in row:
      if (k == "train/loss" or k.startswith("eval/")) and k not in keys:
        keys.append(k)
  out = {}
  for k in keys:
    by_step = {
      int(r["step"]): float(r[k]) for r in rows if r.get(k) is not None
    }
    if by_step:
      steps = np.array(sorted(by_step))
      out[k] = (steps, np.array([by_step[s] for s in steps]))
  return out


def plot_curves(rows: list[dict], baselines: dict[str, float] | None = None):
  """One panel per metric of `curves(rows)`; baselines as dashed lines."""
  series = curves(rows)
  if not series:
    raise ValueError("metrics.jsonl has no train/loss or eval/* values")
  baselines = baselines or {}
  cols = min(len(series), 4)
  nrows = -(-len(series) // cols)
  fig = new_figure(3.2 * cols, 2.4 * nrows)
  axes = fig.subplots(nrows, cols, squeeze=False).ravel()
  for ax, (name, (steps, values)) in zip(axes, series.items()):
    ax.plot(steps, values, marker="o" if len(steps) < 20 else None, ms=3)
    for key, value in sorted(baselines.items()):
      if key.startswith(name + "_") and value is not None:
        label = key[len(name) + 1 :].replace("_", " ")
        ax.axhline(value, ls="--", lw=1, color="grey")
        ax.annotate(label, (steps[0], value), fontsize=6, color="grey")
    ax.set_title(name, fontsize=8)
    ax.set_xlabel("step", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.grid(alpha=0.3)
  for ax in axes[len(series) :]:
    ax.set_visible(False)
  fig.tight_layout()
  return fig


# Features and t-SNE -----------------------------------------------------------


def eval_outputs(
  config, kind, mesh, fns: dict[str, Callable], max_examples: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
  """(outputs, inputs) of the first `max_examples` eval-split examples.

  Args:
    fns: {name: jitted `batch -> [n, ...]`} run on each global eval batch.

  Returns:
    {name: [m, ...]} outputs and the host inputs {"label": [m], "image":
    [m, s, s, 3] (image kinds)} of the m valid examples, in split order.
  """
  outs = {k: [] for k in fns}
  inputs = {"label": [], "image": []}
  batch_size = config.eval.batch_size // jax.process_count()
  for host_batch in kind.eval_batches(
    config,
    config.data.eval_split,
    batch_size=batch_size,
    max_examples=max_examples,
  ):
    batch = mesh_lib.to_global(host_batch, mesh)
    got = multihost_utils.process_allgather(
      {
        **{k: fn(batch) for k, fn in fns.items()},
        "label": batch["label"],
        "valid": batch["valid"],
        **({"image": batch["image"]} if "image" in batch else {}),
      },
      tiled=True,
    )
    keep = np.asarray(got["valid"])
    for k in outs:
      outs[k].append(np.asarray(got[k])[keep])
    inputs["label"].append(np.asarray(got["label"])[keep])
    if "image" in got:
      inputs["image"].append(np.asarray(got["image"])[keep])
  outs = {k: np.concatenate(v) for k, v in outs.items()}
  inputs = {k: np.concatenate(v) for k, v in inputs.items() if v}
  return outs, inputs


def tsne_2d(feats: np.ndarray, *, seed: int = 0) -> np.ndarray:
  """[n, 2] scikit-learn t-SNE of [n, d] features (PCA to 50 dims first).

  Perplexity 30 (at most (n - 1) / 3), PCA initialisation, as
  scikit-learn's and van der Maaten's recommendations.
  """
  from sklearn import decomposition, manifold  # pylint: disable=g-import-not-at-top

  x = np.asarray(feats, np.float64).reshape(len(feats), -1)
  if len(x) < 4:
    raise ValueError(f"t-SNE needs at least 4 examples, got {len(x)}")
  if x.shape[1] > 50 and len(x) > 50:
    x = decomposition.PCA(50, random_state=seed).fit_transform(x)
  perplexity = min(30.0, (len(x) - 1) / 3)
  return manifold.TSNE(
    2, perplexity=perplexity, init="pca", random_state=seed
  ).fit_transform(x)


def plot_embedding(
  xy: np.ndarray, labels: np.ndarray, class_names=None, title: str = ""
):
  """A scatter of [n, 2] points coloured by label, with a legend."""
  fig = new_figure(6.0, 5.0)
  ax = fig.subplots()
  labels = np.asarray(labels)
  classes = np.unique(labels)
  import matplotlib  # pylint: disable=g-import-not-at-top

  cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
  for i, c in enumerate(classes):
    at = labels == c
    name = (
      class_names[c]
      if class_names is not None and 0 <= c < len(class_names)
      else str(c)
    )
    ax.scatter(
      xy[at, 0], xy[at, 1], s=6, color=cmap(i % cmap.N), label=str(name)
    )
  if len(classes) <= 25:
    ax.legend(fontsize=6, markerscale=2, loc="best", ncol=2)
  ax.set_xticks([])
  ax.set_yticks([])
  ax.set_title(title, fontsize=9)
  fig.tight_layout()
  return fig


# Views ------------------------------------------------------------------------


def _denormalize(x: np.ndarray, data_config) -> np.ndarray:
  from jaxssl.data import figures as data_figures  # pylint: disable=g-import-not-at-top

  return data_figures.denormalize(x, data_config)


def plot_training_inputs(batch: dict, config, captions=None):
  """The augmented training inputs of one batch.

  `views` kind: `jaxssl.data.figures.plot_views` (one column per view of
  each group). Other image kinds: a row of "image"s, titled with their
  `captions` (image-text) or labels.
  """
  if any(g in batch for g in config.data.get("views", {})):
    from jaxssl.data import figures as data_figures  # pylint: disable=g-import-not-at-top

    return data_figures.plot_views(batch, config, n=VIEW_ROWS)
  if "image" not in batch:
    raise ValueError(f"no image or view groups in the batch: {sorted(batch)}")
  images = _denormalize(batch["image"][:VIEW_ROWS], config.data)
  n = len(images)
  fig = new_figure(2.0 * n, 2.6 if captions else 2.2)
  axes = fig.subplots(1, n, squeeze=False)[0]
  for i, ax in enumerate(axes):
    ax.imshow(images[i], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    text = captions[i] if captions is not None else f"label {batch['label'][i]}"
    ax.set_title(_wrap(text, 22), fontsize=6)
  fig.tight_layout()
  return fig


def _wrap(text: str, width: int, lines: int = 3) -> str:
  import textwrap  # pylint: disable=g-import-not-at-top

  return "\n".join(textwrap.wrap(text, width)[:lines])


# Retrieval --------------------------------------------------------------------


def top_matches(queries: np.ndarray, keys: np.ndarray, k: int) -> np.ndarray:
  """[q, k] indices of the `k` keys of highest cosine, best first."""
  q = np.asarray(queries, np.float64)
  x = np.asarray(keys, np.float64)
  q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
  x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
  sims = q @ x.T
  return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def plot_i2t(images, captions, image_emb, text_emb, queries):
  """Query images (left) and their top captions (the true one in green)."""
  top = top_matches(image_emb[queries], text_emb, TOP_K)
  fig = new_figure(7.5, 1.7 * len(queries))
  axes = fig.subplots(len(queries), 2, squeeze=False, width_ratios=(1, 4))
  for row, (i, matches) in enumerate(zip(queries, top)):
    axes[row, 0].imshow(images[i], interpolation="nearest")
    axes[row, 0].set_xticks([])
    axes[row, 0].set_yticks([])
    ax = axes[row, 1]
    ax.axis("off")
    for r, j in enumerate(matches):
      ax.text(
        0.0,
        0.9 - r * 0.2,
        f"{r + 1}. {captions[j]}",
        fontsize=7,
        color="green" if captions[j] == captions[i] else "black",
        transform=ax.transAxes,
        va="top",
      )
  fig.suptitle("image -> text: top captions (green: the image's own)", size=8)
  fig.tight_layout()
  return fig


def plot_t2i(images, captions, image_emb, text_emb, queries):
  """Query captions (row titles) and their top images (own one framed)."""
  top = top_matches(text_emb[queries], image_emb, TOP_K)
  fig = new_figure(1.5 * TOP_K, 1.9 * len(queries))
  axes = fig.subplots(len(queries), TOP_K, squeeze=False)
  for row, (i, matches) in enumerate(zip(queries, top)):
    for col, j in enumerate(matches):
      ax = axes[row, col]
      ax.imshow(images[j], interpolation="nearest")
      ax.set_xticks([])
      ax.set_yticks([])
      if j == i:
        for spine in ax.spines.values():
          spine.set_color("green")
          spine.set_linewidth(3)
    axes[row, 0].set_title(
      _wrap(captions[i], 60, 2), fontsize=7, loc="left", x=0.0
    )
  fig.suptitle("text -> image: top images (green frame: the own one)", size=8)
  fig.tight_layout()
  return fig


# The run's figures ------------------------------------------------------------


def _class_names(config):
  if config.data.kind != "image_text":
    return None
  from jaxssl.data.kinds import image_text  # pylint: disable=g-import-not-at-top

  return image_text.class_names(config)


def _captions(config, split):
  from jaxssl.data.kinds import image_text  # pylint: disable=g-import-not-at-top

  return image_text.captions(config, split)


def _draw(name: str, fn: Callable, log: Callable[[str], None]):
  """`fn()` -> an RGB array, or None after logging one line on error."""
  try:
    return to_rgb(fn())
  except Exception as e:  # pylint: disable=broad-except
    log(f"figure {name!r} not drawn: {type(e).__name__}: {e}".splitlines()[0])
    return None


def write_run_figures(
  config, workdir: str, *, method, state, kind, mesh, writer, step: int, log
) -> list[str]:
  """Draws the module docstring's figures; returns the PNG paths written.

  Args:
    config: the run's config.
    workdir: the run's workdir (reads `metrics.jsonl`, `baselines.json`).
    method: the run's `Method`.
    state: the final `TrainState`.
    kind: the run's `DataKind`.
    mesh: the run's mesh.
    writer: the run's open `MetricWriter` (PNG files and TensorBoard).
    step: the step the figures are filed under.
    log: `str -> None`, where the one-line errors go.
  """
  images: dict[str, np.ndarray] = {}
  draw = jax.process_index() == 0

  # Collective: every process extracts, so a multi-host mesh does not hang.
  outs, inputs = {}, {}
  try:
    fns = {}
    out_sh = mesh_lib.data_sharding(mesh)
    if config.eval.tsne_examples > 0:
      fns["feats"] = jax.jit(
        lambda b: method.features(state.params, state.extra, b),
        out_shardings=out_sh,
      )
    image_text = (
      config.data.kind == "image_text"
      and method.encode_image is not None
      and method.encode_text is not None
    )
    if image_text:
      fns["i"] = jax.jit(
        lambda b: method.encode_image(state.params, state.extra, b),
        out_shardings=out_sh,
      )
      fns["t"] = jax.jit(
        lambda b: method.encode_text(state.params, state.extra, b),
        out_shardings=out_sh,
      )
    if fns:
      outs, inputs = eval_outputs(
        config, kind, mesh, fns, max(config.eval.tsne_examples, 64)
      )
  except Exception as e:  # pylint: disable=broad-except
    log(
      f"figures: eval features failed: {type(e).__name__}: {e}".splitlines()[0]
    )
  if not draw:
    return []

  rows = writer_lib.read_metrics(workdir)
  baselines = baselines_lib.load(workdir)
  images["learning_curves"] = _draw(
    "learning_curves", lambda: plot_curves(rows, baselines), log
  )
  if "feats" in outs and "label" in inputs:
    n = config.eval.tsne_examples
    feats, labels = outs["feats"][:n], inputs["label"][:n]
    images["tsne"] = _draw(
      "tsne",
      lambda: plot_embedding(
        tsne_2d(feats, seed=config.seed),
        labels,
        _class_names(config),
        f"t-SNE of {method.name} features, {len(feats)} "
        f"{config.data.eval_split} examples, step {step}",
      ),
      log,
    )

  def views_figure():
    batch = next(
      iter(kind.train_batches(config, process_index=0, process_count=1))
    )
    captions = None
    if config.data.kind == "image_text":
      all_captions = _captions(config, config.data.train_split)
      captions = [all_captions[i] for i in batch["index"][:VIEW_ROWS]]
    return plot_training_inputs(batch, config, captions)

  if config.data.kind != "tokens":
    images["views"] = _draw("views", views_figure, log)
  if "i" in outs and "image" in inputs:
    pics = _denormalize(inputs["image"], config.data)
    caps = _captions(config, config.data.eval_split)[: len(pics)]
    q = np.linspace(0, len(pics) - 1, NUM_QUERIES).astype(int)
    images["retrieval_i2t"] = _draw(
      "retrieval_i2t",
      lambda: plot_i2t(pics, caps, outs["i"], outs["t"], q),
      log,
    )
    images["retrieval_t2i"] = _draw(
      "retrieval_t2i",
      lambda: plot_t2i(pics, caps, outs["i"], outs["t"], q),
      log,
    )
  images = {k: v for k, v in images.items() if v is not None}
  try:
    return writer.write_images(step, images)
  except Exception as e:  # pylint: disable=broad-except
    log(f"figures not written: {type(e).__name__}: {e}".splitlines()[0])
    return []
