"""SSL methods, one file each, in a plain registry.

Adding a method: write `methods/<name>.py` with a `base.MethodDef` (its
`build(config) -> Method`, its `config.method` keys and defaults, their
checks, the data kinds it reads), add it to `METHODS`, add a config. The
loop and `configs_lib` are not edited.
"""

from jaxssl.methods import (
  barlow_twins,
  byol,
  colorization,
  denoising_ae,
  dino,
  exemplar,
  jigsaw,
  legacy_config,
  mae,
  mocov3,
  relative_position,
  rotation,
  simclr,
  simsiam,
  supcon,
  swav,
  vicreg,
)
from jaxssl.methods.base import Method, MethodDef


def _shared(name, build) -> MethodDef:
  """A method that still reads the shared `legacy_config` section."""
  return MethodDef(
    name=name,
    build=build,
    config=legacy_config.config,
    check=legacy_config.check,
    smoke=legacy_config.smoke,
  )


METHODS: dict[str, MethodDef] = {
  m.name: m
  for m in (
    _shared("barlow_twins", barlow_twins.build),
    _shared("byol", byol.build),
    _shared("dino", dino.build),
    _shared("mae", mae.build),
    _shared("mocov3", mocov3.build),
    _shared("simclr", simclr.build),
    _shared("simsiam", simsiam.build),
    _shared("supcon", supcon.build),
    _shared("swav", swav.build),
    _shared("vicreg", vicreg.build),
    rotation.METHOD,
    jigsaw.METHOD,
    relative_position.METHOD,
    colorization.METHOD,
    denoising_ae.METHOD,
    exemplar.METHOD,
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
  """The method named by `config.method.name`, built from `config`."""
  return get(config.method.name).build(config)
