"""`KEY=VALUE` config overrides of the command-line tools (`jaxssl.zoo
--override`, `jaxssl.eval --set`): dotted keys, Python-literal values.

Only the standard library is imported at module level.
"""

from __future__ import annotations

import ast


def parse(text: str, flag: str = "--override") -> tuple[str, object]:
  """`"a.b=1"` -> ("a.b", 1): Python literals, else the text as a str."""
  key, eq, value = text.partition("=")
  if not eq or not key:
    raise ValueError(f"{flag} {text!r}: expected KEY=VALUE")
  try:
    return key, ast.literal_eval(value)
  except (ValueError, SyntaxError):
    return key, value


def locate(config, key: str):
  """(section, leaf) of the dotted `key` in `config`: `section[leaf]` is it.

  Raises:
    ValueError: "config has no section 'x'" or "unknown config key".
  """
  *path, leaf = key.split(".")
  node = config
  for part in path:
    if part not in node:
      raise ValueError(f"config has no section {part!r}")
    node = node[part]
  if leaf not in node:
    raise ValueError("unknown config key")
  return node, leaf


def apply(config, overrides: dict[str, object], flag: str = "--override"):
  """Sets dotted `overrides` on `config` in place, then validates it.

  Raises:
    ValueError: naming `flag` and the key, for a key the config lacks (or a
      value `configs_lib.validate` rejects).
  """
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top

  for key, value in overrides.items():
    try:
      node, leaf = locate(config, key)
    except ValueError as e:
      raise ValueError(f"{flag} {key}: {e}") from None
    node[leaf] = value
  return configs_lib.validate(config)
