"""SSL methods, one file each, in a plain registry.

Adding a method: write `methods/<name>.py` with a module-level `METHOD =
base.MethodDef(...)` (its `build(config) -> Method`, its `config.method`
keys and defaults, their checks and smoke shrink, the data kinds it reads),
add it to `METHODS`, add a config that starts from
`configs_lib.base_config("<name>")`. The loop and `configs_lib` are not
edited. Every method owns its keys: `config.method` holds `name` and
exactly the keys of its `MethodDef.config()`.
"""

from jaxssl.methods import (
  barlow_twins,
  bert_mlm,
  byol,
  clip,
  colorization,
  denoising_ae,
  dino,
  exemplar,
  gpt,
  jigsaw,
  mae,
  mocov3,
  relative_position,
  rotation,
  simclr,
  simcse,
  simsiam,
  supcon,
  supervised,
  swav,
  vicreg,
)
from jaxssl.methods.base import Method, MethodDef

METHODS: dict[str, MethodDef] = {
  m.name: m
  for m in (
    barlow_twins.METHOD,
    byol.METHOD,
    dino.METHOD,
    mae.METHOD,
    mocov3.METHOD,
    simclr.METHOD,
    simsiam.METHOD,
    supcon.METHOD,
    supervised.METHOD,
    swav.METHOD,
    vicreg.METHOD,
    rotation.METHOD,
    jigsaw.METHOD,
    relative_position.METHOD,
    colorization.METHOD,
    denoising_ae.METHOD,
    exemplar.METHOD,
    bert_mlm.METHOD,
    gpt.METHOD,
    simcse.METHOD,
    clip.CLIP,
    clip.SIGLIP,
  )
}


def get(name: str) -> MethodDef:
  """The registered method `name`; a ValueError naming the key if none."""
  if name not in METHODS:
    raise ValueError(
      f"config.method.name={name!r} is not one of {sorted(METHODS)}"
    )
  return METHODS[name]


def build(config) -> Method:
  """The method named by `config.method.name`, built from `config`.

  Runs the method's `check` first (as `configs_lib.validate` does), so a
  config changed after validation still fails naming the bad key.
  """
  spec = get(config.method.name)
  spec.check(config)
  return spec.build(config)
