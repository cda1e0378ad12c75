"""Metric output: `metrics.jsonl`, TensorBoard event files, figures, texts."""

from __future__ import annotations

import json
import math
import os

import jax


class MetricWriter:
  """Writes scalar metrics from process 0 only.

  One JSON object per logged step goes to `<workdir>/metrics.jsonl` (append
  mode, so a resumed run continues the file) and TensorBoard events to
  `<workdir>/tb`.
  """

  def __init__(self, workdir: str, *, tensorboard: bool = True):
    self._active = jax.process_index() == 0
    self._workdir = workdir
    self._jsonl = None
    self._tb = None
    if not self._active:
      return
    path = os.path.join(workdir, "metrics.jsonl")
    _drop_partial_row(path)
    self._jsonl = open(  # noqa: SIM115 (open for the whole run)
      path, "a", encoding="utf-8"
    )
    if tensorboard:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top

      self._tf = tf
      self._tb = tf.summary.create_file_writer(os.path.join(workdir, "tb"))

  def write(self, step: int, metrics: dict[str, float]) -> None:
    """Appends one row (and TensorBoard scalars).

    Raises:
      OSError: naming `metrics.jsonl` when it cannot be written (disk full).
    """
    if not self._active:
      return
    row = {"step": int(step)}
    row.update({k: _json_float(v) for k, v in metrics.items()})
    try:
      self._jsonl.write(json.dumps(row) + "\n")
      self._jsonl.flush()
    except OSError as e:
      raise OSError(e.errno, e.strerror, self._jsonl.name) from e
    if self._tb is not None:
      with self._tb.as_default():
        for k, v in metrics.items():
          self._tf.summary.scalar(k, float(v), step=int(step))
      self._tb.flush()

  def write_images(self, step: int, images: dict) -> list[str]:
    """Saves float [H, W, 3] images in [0, 1] as PNGs and TensorBoard images.

    Files go to `<workdir>/figures/<name>_<step>.png`; returns their paths
    (empty on processes other than 0).
    """
    if not self._active or not images:
      return []
    import matplotlib  # pylint: disable=g-import-not-at-top
    import numpy as np  # pylint: disable=g-import-not-at-top

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

    folder = os.path.join(self._workdir, "figures")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, image in images.items():
      image = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
      if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
          f"figure {name!r} must be [H, W, 3], got {image.shape}"
        )
      path = os.path.join(folder, f"{name}_{int(step)}.png")
      plt.imsave(path, image)
      paths.append(path)
      if self._tb is not None:
        with self._tb.as_default():
          self._tf.summary.image(name, image[None], step=int(step))
    if self._tb is not None:
      self._tb.flush()
    return paths

  def write_texts(self, step: int, texts: dict[str, str]) -> list[str]:
    """Saves texts to `<workdir>/samples/<name>_<step>.txt` and TensorBoard.

    Returns the files' paths (empty on processes other than 0).
    """
    if not self._active or not texts:
      return []
    folder = os.path.join(self._workdir, "samples")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, text in texts.items():
      path = os.path.join(folder, f"{name}_{int(step)}.txt")
      with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
      paths.append(path)
      if self._tb is not None:
        with self._tb.as_default():
          # Markdown: indented lines keep their line breaks.
          md = "\n".join("    " + line for line in text.splitlines())
          self._tf.summary.text(name, md, step=int(step))
    if self._tb is not None:
      self._tb.flush()
    return paths

  def close(self, *, quiet: bool = False) -> None:
    """Closes the files; `quiet`: ignore write errors (another propagates)."""
    try:
      if self._jsonl is not None:
        self._jsonl.close()
      if self._tb is not None:
        self._tb.close()
    except Exception:  # pylint: disable=broad-except
      if not quiet:
        raise


def _drop_partial_row(path: str) -> None:
  """Cuts a last row left without its newline (a kill during the write).

  Otherwise the resumed run's first row would be glued onto it.
  """
  try:
    with open(path, "rb+") as f:
      size = f.seek(0, os.SEEK_END)
      if not size:
        return
      f.seek(max(size - 65536, 0))
      tail = f.read()
      if tail.endswith(b"\n"):
        return
      cut = tail.rfind(b"\n")
      f.truncate(size - len(tail) + cut + 1 if cut >= 0 else 0)
  except FileNotFoundError:
    pass


def _json_float(v) -> float | None:
  v = float(v)
  return v if math.isfinite(v) else None


def read_metrics(workdir: str) -> list[dict]:
  """All rows of `<workdir>/metrics.jsonl` (for notebooks and tests)."""
  path = os.path.join(workdir, "metrics.jsonl")
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]
