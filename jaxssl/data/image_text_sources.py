"""Captioned image sources of the `image_text` kind beyond the embedded digits.

"image_text_folder" (`config.data.name`): `config.data.data_dir` holds one
folder per split, and in each either the images themselves or one
sub-folder per class holding them (all splits alike). Every image has its
caption beside it, a same-name `.txt` file (UTF-8; the caption is its text
with runs of white space made one space):

  data_dir/train/cats/tabby.png   data_dir/train/cats/tabby.txt
  data_dir/train/dogs/pug.jpg     data_dir/train/dogs/pug.txt
  data_dir/test/...

Class folders give the labels (the sorted names over all splits, as
`tfds.folder_dataset` does; a split may lack a class), which the zero-shot
prompts (their names, "_" read as a space) and the probes use; without
class folders every image has label 0 and there is no zero-shot
classification. Images (png, jpg, jpeg, bmp, gif) are read in
sorted path order, the captions in the same order.

`write_openclipart(out_dir)` turns Debian's `openclipart-png` (`apt-get
install openclipart-png`: ~8.1k clip-art PNGs in 22 category folders, each
with a Title in its PNG metadata) into such a folder:

  python -m jaxssl.data.image_text_sources openclipart /tmp/openclipart

What belongs here: listing, checking and converting captioned folders. The
batches are the `image_text` kind's.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import zlib

import numpy as np

IMAGE_TEXT_FOLDER = "image_text_folder"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
OPENCLIPART_DIR = "/usr/share/openclipart/png"


@dataclasses.dataclass(frozen=True)
class Split:
  """One split of a captioned folder, in sorted path order.

  Attributes:
    paths: [n] image file paths.
    labels: int32 [n] class indices (0 without class folders).
    captions: [n] caption strings.
  """

  paths: tuple[str, ...]
  labels: np.ndarray
  captions: tuple[str, ...]


def _fail(msg: str):
  raise ValueError(f"config.data.data_dir: {msg}")


def _is_image(name: str) -> bool:
  return name.lower().endswith(IMAGE_SUFFIXES)


def splits(data_dir: str) -> list[str]:
  """The split folders of `data_dir` (sorted); one-line errors if none."""
  if not data_dir or not os.path.isdir(data_dir):
    _fail(
      f"config.data.name={IMAGE_TEXT_FOLDER!r} needs data_dir to be a folder "
      f"of split folders of images with .txt captions; got {data_dir!r}"
    )
  names = sorted(
    d for d in os.listdir(data_dir) if os.path.isdir(os.path.join(data_dir, d))
  )
  if not names:
    _fail(f"{data_dir!r} has no split folders (e.g. train/, test/)")
  return names


def class_names(data_dir: str) -> tuple[str, ...]:
  """Sorted class folder names over all splits (a split may lack some),
  () without class folders."""
  found = {}
  for split in splits(data_dir):
    root = os.path.join(data_dir, split)
    entries = sorted(os.listdir(root))
    dirs = [e for e in entries if os.path.isdir(os.path.join(root, e))]
    files = [e for e in entries if _is_image(e)]
    if dirs and files:
      _fail(
        f"{root!r} mixes images ({files[0]!r}) and class folders "
        f"({dirs[0]!r}); use one or the other"
      )
    found[split] = dirs
  if len({bool(v) for v in found.values()}) > 1:
    with_classes = sorted(k for k, v in found.items() if v)
    without = sorted(k for k, v in found.items() if not v)
    _fail(
      f"splits {with_classes} have class folders but {without} do not; "
      "use one layout for all"
    )
  return tuple(sorted({c for v in found.values() for c in v}))


def _read_caption(image_path: str) -> str:
  stem = os.path.splitext(image_path)[0]
  path = stem + ".txt"
  if not os.path.isfile(path):
    _fail(f"image {image_path!r} has no caption file {path!r}")
  with open(path, encoding="utf-8") as f:
    text = " ".join(f.read().split())
  if not text:
    _fail(f"caption file {path!r} is empty")
  return text


def load_split(data_dir: str, split: str) -> Split:
  """The images, labels and captions of `split` (see the module docstring).

  Raises:
    ValueError: one line naming the folder or file: no such split, no
      images, an image without its .txt caption, an empty caption, a
      caption without its image, mixed layouts.
  """
  names = splits(data_dir)
  if split not in names:
    _fail(f"{data_dir!r} has no split {split!r}; available splits: {names}")
  classes = class_names(data_dir)
  root = os.path.join(data_dir, split)
  folders = [
    (os.path.join(root, c), i)
    for i, c in enumerate(classes)
    if os.path.isdir(os.path.join(root, c))
  ]
  paths, labels, captions = [], [], []
  for folder, label in folders or [(root, 0)]:
    entries = sorted(os.listdir(folder))
    images = [e for e in entries if _is_image(e)]
    stems = {os.path.splitext(e)[0] for e in images}
    for e in entries:
      if e.endswith(".txt") and e[:-4] not in stems:
        _fail(f"caption {os.path.join(folder, e)!r} has no image beside it")
    for e in images:
      path = os.path.join(folder, e)
      paths.append(path)
      labels.append(label)
      captions.append(_read_caption(path))
  if not paths:
    _fail(
      f"split folder {root!r} holds no images ({', '.join(IMAGE_SUFFIXES)})"
    )
  return Split(tuple(paths), np.asarray(labels, np.int32), tuple(captions))


# openclipart-png --------------------------------------------------------------


def openclipart_caption(title: str, rel_path: str) -> str:
  """A caption from a clip-art Title and its folder path below the category.

  E.g. ("Soft Blue Couch", "buildings/furniture/soft_blue_couch_01.png") ->
  "soft blue couch, furniture". The top category (the label) is left out
  of the caption, so zero-shot does not read it off the text.
  """
  import html  # pylint: disable=g-import-not-at-top

  # Some titles hold HTML entities ("l&eacute;zard").
  words = re.sub(r"[_\-]+", " ", html.unescape(title or "")).strip().lower()
  words = re.sub(r"\s+", " ", re.sub(r"[^\w ,.'&]", " ", words)).strip()
  parts = rel_path.split("/")[1:-1]  # folders below the category
  where = " ".join(p.replace("_", " ").replace("-", " ") for p in parts)
  if not words:
    words = re.sub(r"[_\-\d]+", " ", os.path.splitext(rel_path)[0])
    words = " ".join(words.split("/")[-1].split())
  return f"{words}, {where}" if where else words


def write_openclipart(
  out_dir: str,
  *,
  source_dir: str = OPENCLIPART_DIR,
  image_size: int = 64,
  test_fraction: float = 0.2,
  seed: int = 0,
) -> dict[str, int]:
  """Writes `openclipart-png` as an image_text_folder; returns split sizes.

  Each PNG is composited on white (transparency), padded to a square with
  white, resized to `image_size` and saved as `<split>/<category>/<n>.png`
  with its caption (`openclipart_caption`) beside it. An image goes to the
  test split when a hash of its path (crc32 with `seed`) falls below
  `test_fraction`, so the split is stable. Unreadable images are skipped.
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top

  if not os.path.isdir(source_dir):
    raise FileNotFoundError(
      f"{source_dir}: no such folder; `apt-get install openclipart-png`"
    )
  categories = sorted(
    d
    for d in os.listdir(source_dir)
    if os.path.isdir(os.path.join(source_dir, d))
  )
  sizes = {"train": 0, "test": 0}
  for category in categories:
    for dirpath, _, files in sorted(
      os.walk(os.path.join(source_dir, category))
    ):
      for name in sorted(files):
        if not name.lower().endswith(".png"):
          continue
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, source_dir)
        try:
          with Image.open(path) as im:
            title = im.info.get("Title", "")
            im = im.convert("RGBA")
            side = max(im.size)
            canvas = Image.new("RGBA", (side, side), (255, 255, 255, 255))
            canvas.paste(
              im, ((side - im.size[0]) // 2, (side - im.size[1]) // 2), im
            )
            small = canvas.convert("RGB").resize(
              (image_size, image_size), Image.BICUBIC
            )
        except (OSError, ValueError, Image.DecompressionBombError):
          continue  # unreadable, or a 200-megapixel poster: skipped
        key = zlib.crc32(f"{seed}:{rel}".encode()) / 2**32
        split = "test" if key < test_fraction else "train"
        folder = os.path.join(out_dir, split, category)
        os.makedirs(folder, exist_ok=True)
        stem = os.path.join(folder, f"{sizes[split]:05d}")
        small.save(stem + ".png")
        with open(stem + ".txt", "w", encoding="utf-8") as f:
          f.write(openclipart_caption(title, rel) + "\n")
        sizes[split] += 1
  return sizes


def main(argv: list[str]) -> int:
  """`openclipart OUT_DIR [IMAGE_SIZE]`: see `write_openclipart`."""
  if len(argv) not in (2, 3) or argv[0] != "openclipart":
    print(
      "usage: python -m jaxssl.data.image_text_sources openclipart OUT_DIR "
      "[IMAGE_SIZE]",
      file=sys.stderr,
    )
    return 2
  size = int(argv[2]) if len(argv) == 3 else 64
  print(write_openclipart(argv[1], image_size=size))
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
