"""Pictures of the input pipeline for notebooks and the README.

What belongs here: plotting batches (matplotlib, imported lazily and drawn
on the Agg canvas, so no GUI backend and no pyplot state are involved).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def denormalize(views: np.ndarray, data_config) -> np.ndarray:
  """Undoes `normalize`: float32 [..., 3] -> [0, 1] for display."""
  mean = np.asarray(data_config.mean, np.float32)
  std = np.asarray(data_config.std, np.float32)
  return np.clip(np.asarray(views) * std + mean, 0.0, 1.0)


def plot_views(
  batch: Mapping[str, np.ndarray], config, n: int = 8, path: str | None = None
):
  """A grid of augmented views: one row per example, one column per view.

  Args:
    batch: a `pipeline.train_batches` batch, {group: [b, v, s, s, 3], ...};
      groups are shown left to right in `config.data.views` order.
    config: the experiment config (uses `data.views`, `data.mean`,
      `data.std`).
    n: examples (rows) to show, at most b.
    path: if given, the figure is also saved there (format from the suffix).

  Returns:
    A `matplotlib.figure.Figure` (displayed inline by Jupyter).
  """
  # Lazy: matplotlib costs ~0.5 s to import and only figures need it.
  # pylint: disable=g-import-not-at-top
  from matplotlib import figure as figure_lib
  from matplotlib.backends import backend_agg
  # pylint: enable=g-import-not-at-top

  groups = [g for g in config.data.views if g in batch]
  if not groups:
    raise ValueError(
      f"batch has none of the view groups "
      f"{list(config.data.views.keys())}: {sorted(batch)}"
    )
  n = min(n, len(batch[groups[0]]))
  columns = [(g, j) for g in groups for j in range(batch[g].shape[1])]
  fig = figure_lib.Figure(figsize=(1.2 * len(columns), 1.2 * n + 0.4))
  backend_agg.FigureCanvasAgg(fig)
  axes = fig.subplots(n, len(columns), squeeze=False)
  for i in range(n):
    for col, (group, j) in enumerate(columns):
      ax = axes[i, col]
      ax.imshow(
        denormalize(batch[group][i, j], config.data), interpolation="nearest"
      )
      ax.set_xticks([])
      ax.set_yticks([])
      if i == 0:
        ax.set_title(f"{group}[{j}]", fontsize=7)
      if col == 0 and "label" in batch:
        ax.set_ylabel(f"label {int(batch['label'][i])}", fontsize=7)
  fig.tight_layout(pad=0.3)
  if path:
    fig.savefig(path, dpi=100)
  return fig
