"""Images and labels stored as arrays on disk: IDX, .npz and .npy files.

The `arrays` source (`config.data.name = "arrays"`) reads one split from
`config.data.data_dir` with NumPy alone, in the first of these layouts that
exists, where `images_key` and `labels_key` are `config.data.array_keys`
with `{split}` replaced by the split's name (default ("x_{split}",
"y_{split}"), the keys of Keras' `mnist.npz` / `fashion_mnist.npz`):

  1. `data_dir` is an .npz file holding `images_key` and `labels_key`.
  2. `<data_dir>/<split>.npz` holding them (per-split files; set
     `array_keys=("images", "labels")` for keys without the split name).
  3. `<data_dir>/<images_key>.npy` and `<data_dir>/<labels_key>.npy`.
  4. IDX files of the MNIST family: `<p>-images-idx3-ubyte[.gz]` and
     `<p>-labels-idx1-ubyte[.gz]`, with p the split name or, for "test",
     also "t10k" (MNIST, Fashion-MNIST, KMNIST, EMNIST).

Images are uint8 [n, h, w] (grayscale) or [n, h, w, c] with c in 1, 3, 4
(the pipeline repeats grayscale to RGB and drops alpha, `ops.to_float`);
labels are integers >= 0 [n]. Bad input raises a one-line ValueError naming
`config.data.data_dir` (or `config.data.array_keys`) and the file.

`per_class(labels, cap)` is the deterministic per-class subsample that
`config.data.max_train_per_class` / `max_eval_per_class` select (any
in-memory source, see `jaxssl.data.sources`).

What belongs here: parsing array files. Sharding, seeding and batching are
in `pipeline`; naming sources in `sources`.
"""

from __future__ import annotations

import glob
import gzip
import math
import os
import re

import numpy as np

# IDX (LeCun et al., the MNIST page): 2 zero bytes, a type code, the rank,
# then `rank` big-endian uint32 sizes, then the values, big-endian.
IDX_DTYPES = {
  0x08: np.dtype("u1"),
  0x09: np.dtype("i1"),
  0x0B: np.dtype(">i2"),
  0x0C: np.dtype(">i4"),
  0x0D: np.dtype(">f4"),
  0x0E: np.dtype(">f8"),
}
_IDX_RE = re.compile(r"^(.+)-(images-idx3|labels-idx1)-ubyte(\.gz)?$")
# The MNIST family names its test split "t10k".
_IDX_ALIASES = {"test": ("test", "t10k")}


def _fail(key: str, value, path: str, why: str) -> None:
  raise ValueError(f"config.data.{key}={value!r}: {path}: {why}")


def read_idx(path: str, *, data_dir: str = "") -> np.ndarray:
  """The array of one IDX file (gzipped if its name ends in .gz).

  Args:
    path: an IDX file, e.g. `train-images-idx3-ubyte.gz`.
    data_dir: `config.data.data_dir`, named in errors.

  Returns:
    The values with the header's dtype (native byte order) and shape.

  Raises:
    ValueError: not an IDX file (magic number, unknown type code) or a size
      that disagrees with its header, naming the file.
  """
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      data = f.read()
  except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
    _fail("data_dir", data_dir, path, f"cannot be read ({error})")
  if len(data) < 4 or data[0] != 0 or data[1] != 0:
    magic = data[:4].hex() or "empty"
    _fail(
      "data_dir",
      data_dir,
      path,
      f"not an IDX file (magic number 0x{magic}, expected 0x0000 then a "
      "type code and the rank)",
    )
  code, rank = data[2], data[3]
  if code not in IDX_DTYPES:
    _fail(
      "data_dir",
      data_dir,
      path,
      f"unknown IDX type code 0x{code:02x} (known: "
      f"{', '.join(f'0x{c:02x}' for c in IDX_DTYPES)})",
    )
  header = 4 + 4 * rank
  if len(data) < header:
    _fail("data_dir", data_dir, path, f"truncated IDX header (rank {rank})")
  shape = tuple(int(d) for d in np.frombuffer(data, ">u4", rank, offset=4))
  dtype = IDX_DTYPES[code]
  expected = math.prod(shape) * dtype.itemsize
  if len(data) - header != expected:
    _fail(
      "data_dir",
      data_dir,
      path,
      f"holds {len(data) - header} bytes of values, its header says "
      f"{shape} x {dtype.itemsize} = {expected}",
    )
  values = np.frombuffer(data, dtype, offset=header).reshape(shape)
  return values.astype(dtype.newbyteorder("="))


def _idx_path(data_dir: str, prefix: str, what: str) -> str | None:
  for suffix in ("", ".gz"):
    path = os.path.join(data_dir, f"{prefix}-{what}-ubyte{suffix}")
    if os.path.isfile(path):
      return path
  return None


def _keys(array_keys, split: str) -> tuple[str, str]:
  images_key, labels_key = (k.format(split=split) for k in array_keys)
  return images_key, labels_key


def _template_regex(template: str) -> re.Pattern:
  head, _, tail = template.partition("{split}")
  return re.compile(f"^{re.escape(head)}(.+){re.escape(tail)}$")


def splits(data_dir: str, array_keys) -> list[str]:
  """The split names found in `data_dir` (any layout), sorted."""
  found = set()
  images_t, labels_t = array_keys
  if os.path.isfile(data_dir) and data_dir.endswith(".npz"):
    with np.load(data_dir) as f:
      names = set(f.files)
    if "{split}" in images_t:
      regex = _template_regex(images_t)
      for name in names:
        m = regex.match(name)
        if m and labels_t.format(split=m.group(1)) in names:
          found.add(m.group(1))
    return sorted(found)
  if not os.path.isdir(data_dir):
    return []
  for path in glob.glob(os.path.join(data_dir, "*.npz")):
    found.add(os.path.basename(path)[: -len(".npz")])
  if "{split}" in images_t:
    regex = _template_regex(images_t + ".npy")
    for path in glob.glob(os.path.join(data_dir, "*.npy")):
      m = regex.match(os.path.basename(path))
      if m and os.path.isfile(
        os.path.join(data_dir, labels_t.format(split=m.group(1)) + ".npy")
      ):
        found.add(m.group(1))
  for path in glob.glob(os.path.join(data_dir, "*-ubyte*")):
    m = _IDX_RE.match(os.path.basename(path))
    if m and m.group(2) == "images-idx3":
      prefix = m.group(1)
      if _idx_path(data_dir, prefix, "labels-idx1"):
        found.add("test" if prefix == "t10k" else prefix)
  return sorted(found)


def _check_images(images, path: str, data_dir: str) -> np.ndarray:
  if images.dtype != np.uint8:
    _fail(
      "data_dir",
      data_dir,
      path,
      f"images have dtype {images.dtype}, expected uint8 (convert floats in "
      "[0, 1] with (x * 255).round().astype(np.uint8))",
    )
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
    _fail(
      "data_dir",
      data_dir,
      path,
      f"images have shape {images.shape}, expected [n, h, w] or "
      "[n, h, w, c] with c in 1, 3, 4",
    )
  return images


def _check_labels(labels, n: int, path: str, data_dir: str) -> np.ndarray:
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    _fail(
      "data_dir",
      data_dir,
      path,
      f"labels have dtype {labels.dtype} and shape {labels.shape}, expected "
      "integers [n]",
    )
  if len(labels) != n:
    _fail(
      "data_dir",
      data_dir,
      path,
      f"{len(labels)} labels for {n} images",
    )
  if len(labels) and labels.min() < 0:
    _fail("data_dir", data_dir, path, f"negative label {labels.min()}")
  return labels.astype(np.int32)


def _from_npz(path, split, array_keys, data_dir):
  images_key, labels_key = _keys(array_keys, split)
  with np.load(path, allow_pickle=False) as f:
    missing = [k for k in (images_key, labels_key) if k not in f.files]
    if missing:
      raise ValueError(
        f"config.data.array_keys={tuple(array_keys)!r}: {path} has no "
        f"{missing} for split {split!r}; its keys: {sorted(f.files)}"
      )
    return f[images_key], f[labels_key], path


def load_split(data_dir: str, split: str, array_keys) -> dict[str, np.ndarray]:
  """{"image": uint8 [n, h, w, c], "label": int32 [n]} of `split`.

  Args:
    data_dir: `config.data.data_dir`, a folder or an .npz file.
    split: the split's name.
    array_keys: `config.data.array_keys`, (images, labels) templates.

  Raises:
    ValueError: one line naming the config key and the file: no file for
      the split, unknown keys, bad dtype or rank, a count mismatch, a bad
      IDX header.
  """
  if os.path.isfile(data_dir):
    if not data_dir.endswith(".npz"):
      _fail("data_dir", data_dir, data_dir, "a file must be an .npz")
    images, labels, path = _from_npz(data_dir, split, array_keys, data_dir)
  elif not os.path.isdir(data_dir):
    raise ValueError(
      f"config.data.data_dir={data_dir!r}: no such folder or .npz file"
    )
  else:
    images_key, labels_key = _keys(array_keys, split)
    npz = os.path.join(data_dir, f"{split}.npz")
    npy = [os.path.join(data_dir, f"{k}.npy") for k in (images_key, labels_key)]
    prefixes = _IDX_ALIASES.get(split, (split,))
    idx = [
      (
        _idx_path(data_dir, p, "images-idx3"),
        _idx_path(data_dir, p, "labels-idx1"),
      )
      for p in prefixes
    ]
    idx = [pair for pair in idx if all(pair)]
    if os.path.isfile(npz):
      images, labels, path = _from_npz(npz, split, array_keys, data_dir)
    elif all(os.path.isfile(p) for p in npy):
      images = np.load(npy[0], allow_pickle=False)
      labels = np.load(npy[1], allow_pickle=False)
      path = npy[0]
    elif idx:
      image_path, label_path = idx[0]
      images = read_idx(image_path, data_dir=data_dir)
      labels = read_idx(label_path, data_dir=data_dir)
      path = image_path
      if labels.ndim != 1:
        _fail("data_dir", data_dir, label_path, f"labels of rank {labels.ndim}")
    else:
      idx_names = " or ".join(
        f"{p}-images-idx3-ubyte[.gz] + {p}-labels-idx1-ubyte[.gz]"
        for p in prefixes
      )
      raise ValueError(
        f"config.data.data_dir={data_dir!r}: no split {split!r}: looked for "
        f"{split}.npz, {images_key}.npy + {labels_key}.npy "
        f"(config.data.array_keys) and {idx_names}; found splits "
        f"{splits(data_dir, array_keys)}"
      )
  images = _check_images(np.asarray(images), path, data_dir)
  labels = _check_labels(np.asarray(labels), len(images), path, data_dir)
  return {"image": np.ascontiguousarray(images), "label": labels}


def per_class(labels: np.ndarray, cap: int) -> np.ndarray:
  """Indices of the first `cap` examples of each class, in stored order.

  Deterministic (no seed: every run and every seed sees the same subset),
  and kept in stored order so that hosts' contiguous shards stay mixed.

  Args:
    labels: int [n].
    cap: examples kept per class, >= 1.

  Returns:
    int64 [m] sorted indices into `labels`.
  """
  labels = np.asarray(labels)
  order = np.argsort(labels, kind="stable")
  sorted_labels = labels[order]
  first = np.searchsorted(sorted_labels, sorted_labels, side="left")
  rank = np.arange(len(labels)) - first  # position within its class
  return np.sort(order[rank < cap])
