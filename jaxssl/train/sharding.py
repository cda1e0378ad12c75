"""Sharding rules by array path: replicated, FSDP over "data", a "model" axis.

The train state's layout on the ("data", "model") mesh, decided once from
`config.mesh` (big_vision's `sharding.py` approach: rules on the path of
each leaf, then FSDP over what is left):

1. Rules: `(regex, spec)` pairs; the first whose regex `re.search`es a
   leaf's path (e.g. `params/encoder/backbone/block0/attn/qkv/kernel`;
   optimizer moments and EMA teachers carry the same tail, so they follow
   their parameter) gives the leaf's PartitionSpec. `config.mesh.rules`
   are tried first, then the preset `config.mesh.model_rules`:
   "megatron" (Megatron-LM tensor parallelism over the "model" axis for
   the Transformer blocks of `jaxssl.models.vit` / `text`: the fused qkv
   and `mlp_fc1` kernels split by output column, `proj` and `mlp_fc2` by
   input row) or "none". With `config.mesh.model=1` the "model" axis has
   size 1 and the preset changes nothing.
2. FSDP (`config.mesh.fsdp`): every leaf of at least
   `config.mesh.fsdp_min_size` elements is also split over "data" on its
   largest dimension that the rules left free and the data-parallel size
   divides (parameters, optimizer state and the method's extra state
   alike). Leaves under the threshold or with no such dimension stay
   replicated over "data".

Sharding changes where values live, not what the jitted step computes:
XLA inserts the all-gathers and reduce-scatters, and the loss is equal to
the replicated one up to float reduction order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxssl.train import mesh as mesh_lib

AXES = (mesh_lib.DATA, mesh_lib.MODEL)

# Megatron-LM (Shoeybi et al., arXiv:1909.08053): column-parallel first
# matmul, row-parallel second, so each block needs one reduction per
# sublayer. Kernels are Flax Dense [in, out]; biases follow the output.
MODEL_RULES: dict[str, tuple[tuple[str, tuple], ...]] = {
  "none": (),
  "megatron": (
    (r"attn/qkv/kernel$", (None, mesh_lib.MODEL)),
    (r"attn/qkv/bias$", (mesh_lib.MODEL,)),
    (r"attn/proj/kernel$", (mesh_lib.MODEL, None)),
    (r"mlp_fc1/kernel$", (None, mesh_lib.MODEL)),
    (r"mlp_fc1/bias$", (mesh_lib.MODEL,)),
    (r"mlp_fc2/kernel$", (mesh_lib.MODEL, None)),
  ),
}


def path_str(path) -> str:
  """`params/encoder/block0/attn/qkv/kernel` from a pytree key path."""
  parts = []
  for k in path:
    if isinstance(k, jax.tree_util.DictKey):
      parts.append(str(k.key))
    elif isinstance(k, jax.tree_util.GetAttrKey):
      parts.append(k.name)
    elif isinstance(k, jax.tree_util.SequenceKey):
      parts.append(str(k.idx))
    else:
      parts.append(str(k).strip(".[]'\""))
  return "/".join(parts)


def _compile_rules(mesh_config) -> list[tuple[str, re.Pattern, tuple, bool]]:
  """(name for errors, regex, spec, is_user_rule) in the order tried."""
  preset = mesh_config.model_rules
  if preset not in MODEL_RULES:
    raise ValueError(
      f"config.mesh.model_rules={preset!r} is not one of {sorted(MODEL_RULES)}"
    )
  out = []
  user = tuple(mesh_config.rules or ())
  for i, rule in enumerate(user):
    name = f"config.mesh.rules[{i}]"
    if (
      not isinstance(rule, Sequence)
      or isinstance(rule, str)
      or len(rule) != 2
      or not isinstance(rule[0], str)
    ):
      raise ValueError(
        f"{name}={rule!r} must be a (regex, spec) pair, e.g. "
        "('mlp_fc1/kernel$', (None, 'model'))"
      )
    pattern, spec = rule
    try:
      regex = re.compile(pattern)
    except re.error as e:
      raise ValueError(f"{name}: bad regex {pattern!r}: {e}") from None
    out.append((name, regex, _check_spec(name, spec), True))
  for pattern, spec in MODEL_RULES[preset]:
    name = f"config.mesh.model_rules={preset!r} rule {pattern!r}"
    out.append((name, re.compile(pattern), spec, False))
  return out


def _check_spec(name: str, spec) -> tuple:
  if spec is None or isinstance(spec, str):
    spec = (spec,)
  if not isinstance(spec, Sequence):
    raise ValueError(f"{name}: spec {spec!r} must be a tuple of axis names")
  spec = tuple(spec)
  used = [a for a in spec if a is not None]
  for a in used:
    if a not in AXES:
      raise ValueError(
        f"{name}: spec {spec!r} names axis {a!r}; the mesh axes are {AXES} "
        "(or None: not split)"
      )
  if len(set(used)) != len(used):
    raise ValueError(f"{name}: spec {spec!r} uses an axis twice")
  return spec


def partition_specs(tree, mesh_config, mesh: Mesh):
  """The PartitionSpec of every leaf of `tree` (arrays or ShapeDtypeStructs).

  Raises:
    ValueError: a one-line error naming the `config.mesh` key: a malformed
      or unknown rule, a rule's axis that does not divide the dimension it
      splits, or a user rule that matches no leaf.
  """
  rules = _compile_rules(mesh_config)
  sizes = dict(mesh.shape)
  fsdp = bool(mesh_config.fsdp)
  min_size = int(mesh_config.fsdp_min_size)
  if min_size < 0:
    raise ValueError(
      f"config.mesh.fsdp_min_size={min_size} must be >= 0 (elements)"
    )
  n_data = sizes[mesh_lib.DATA]
  matched = set()

  def one(path, leaf):
    name = path_str(path)
    shape = tuple(leaf.shape)
    spec = [None] * len(shape)
    for rule_name, regex, rule_spec, _ in rules:
      if not regex.search(name):
        continue
      matched.add(rule_name)
      if len(rule_spec) > len(shape):
        raise ValueError(
          f"{rule_name}: spec {rule_spec!r} has {len(rule_spec)} entries, "
          f"but {name} has shape {list(shape)}"
        )
      for dim, axis in enumerate(rule_spec):
        if axis is not None and shape[dim] % sizes[axis]:
          key = "config.mesh." + axis
          raise ValueError(
            f"{rule_name}: {key}={sizes[axis]} does not divide dim {dim} "
            f"of {name} {list(shape)}"
          )
      spec[: len(rule_spec)] = rule_spec
      break
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if (
      fsdp
      and n_data > 1
      and size >= min_size
      and mesh_lib.DATA not in spec
      and shape
    ):
      # The largest free dimension the data axis divides (the first of
      # equals), as big_vision's fsdp strategy.
      free = [
        d
        for d in range(len(shape))
        if spec[d] is None and shape[d] % n_data == 0
      ]
      if free:
        dim = max(free, key=lambda d: (shape[d], -d))
        spec[dim] = mesh_lib.DATA
    while spec and spec[-1] is None:
      spec.pop()
    return P(*spec)

  specs = jax.tree_util.tree_map_with_path(one, tree)
  for rule_name, _, _, is_user in rules:
    if is_user and rule_name not in matched:
      raise ValueError(
        f"{rule_name} matches no array of the train state (paths look like "
        "params/encoder/backbone/block0/attn/qkv/kernel)"
      )
  return specs


def shardings(tree, mesh_config, mesh: Mesh):
  """`NamedSharding`s on `mesh` for every leaf of `tree` (see module doc)."""
  return jax.tree.map(
    lambda spec: NamedSharding(mesh, spec),
    partition_specs(tree, mesh_config, mesh),
    is_leaf=lambda x: isinstance(x, P),
  )


def bytes_per_device(tree, shardings_tree) -> int:
  """Bytes of the largest shard of each leaf, summed: one device's share."""

  def one(leaf, sh):
    shape = sh.shard_shape(tuple(leaf.shape))
    return int(np.prod(shape, dtype=np.int64)) * leaf.dtype.itemsize

  return int(sum(jax.tree.leaves(jax.tree.map(one, tree, shardings_tree))))
