"""Jigsaw puzzles: which of P permutations shuffled an image's 3x3 tiles.

One image per example (data kind `images`). Each step cuts every image of
the batch into a grid of `method.grid` x `method.grid` cells and takes one
`method.tile_size` tile at a random position inside each cell (so tiles are
separated by random gaps: edges cannot be followed from tile to tile), draws
one of `method.num_permutations` permutations per image and shuffles the
tiles by it (`jaxssl.pretext.jigsaw`). The permutation set is
`jaxssl.pretext.max_hamming_permutations` (Noroozi & Favaro's greedy set of
maximal minimum Hamming distance, seed `method.permutation_seed`), built
once on the host. With `method.normalize_tiles` each tile is normalised to
zero mean and unit std on its own (the paper's guard against low-level
cues). Noroozi & Favaro's context-free network: one backbone shared by the
tiles, their features concatenated in tile order, a classifier
(`method.head_hidden_dim`) over the P permutations, a cross-entropy.

Features for evaluation: the backbone alone on the whole image, in
inference mode. Metrics: `loss`, `accuracy` (permutation top-1), `z_std`
of the tile features.

References:
  Noroozi & Favaro, Unsupervised Learning of Visual Representations by
  Solving Jigsaw Puzzles, ECCV 2016, arXiv:1603.09246.
"""

from __future__ import annotations

import functools
import math

import jax.numpy as jnp
import ml_collections

from jaxssl import pretext
from jaxssl.methods import base
from jaxssl.methods import pretext_common as pc


def default_config() -> ml_collections.ConfigDict:
  """Jigsaw's `config.method` keys and their defaults (the paper's)."""
  return ml_collections.ConfigDict(
    {
      "grid": 3,  # grid x grid tiles
      "num_permutations": 1000,  # P, the classes (paper: 1000)
      "permutation_seed": 0,
      # Tile side in pixels, at most the cell side image_size // grid
      # (paper: 64-pixel tiles in the 75-pixel cells of a 225 crop).
      "tile_size": 64,
      "normalize_tiles": True,
      # Classifier on the concatenated tile features (paper: fc7 4096).
      "head_hidden_dim": 4096,
    }
  )


def check_config(config) -> None:
  """Raises ValueError naming the first bad `config.method` key."""
  m = config.method
  pc.check_head(config)
  if m.grid < 2:
    pc.fail("grid", m.grid, "must be >= 2")
  # grid <= 3 enumerates every permutation, larger grids sample 20000.
  limit = math.factorial(m.grid**2) if m.grid <= 3 else 20000
  if not 2 <= m.num_permutations <= limit:
    pc.fail("num_permutations", m.num_permutations, f"must be in [2, {limit}]")
  cell = config.data.image_size // m.grid
  if not 1 <= m.tile_size <= cell:
    pc.fail(
      "tile_size",
      m.tile_size,
      f"must be in [1, {cell}] (data.image_size={config.data.image_size} "
      f"// method.grid={m.grid})",
    )


def smoke(m) -> None:
  m.num_permutations = min(m.num_permutations, 10)
  m.tile_size = min(m.tile_size, 8)  # fits the cells of 32-pixel images
  m.head_hidden_dim = min(m.head_hidden_dim, 32)


@functools.cache
def permutations(count: int, grid: int, seed: int):
  """The (cached) maximal-Hamming permutation set, [count, grid²] int32."""
  perms = pretext.max_hamming_permutations(count, grid=grid, seed=seed)
  perms.setflags(write=False)
  return perms


def build(config) -> base.Method:
  """Jigsaw from `config.model` and `config.method`."""
  check_config(config)
  m = config.method
  perms = jnp.asarray(
    permutations(m.num_permutations, m.grid, m.permutation_seed)
  )

  def make_tiles(rng, images):
    return pretext.jigsaw(
      rng, images, grid=m.grid, permutations=perms, tile_size=m.tile_size
    )

  return pc.tile_method("jigsaw", config, make_tiles, m.num_permutations)


METHOD = base.MethodDef(
  name="jigsaw",
  build=build,
  config=default_config,
  check=check_config,
  smoke=smoke,
  data_kinds=("images",),
)
