"""`python -m jaxssl.bench backbones`: a tiny timed run, and its errors."""

import json

import pytest

from jaxssl import bench
from jaxssl.bench import backbones
from jaxssl.models import resnet


def test_tiny_run_reports_every_model_and_impl(capsys):
  bench.main(
    [
      "backbones",
      "--impls",
      "xla,matmul",
      "--batch_size",
      "4",
      "--size",
      "8",
      "--repeats",
      "2",
      "--json",
    ]
  )
  result = json.loads(capsys.readouterr().out)
  assert [(r["model"], r["impl"]) for r in result["rows"]] == [
    ("tiny_resnet", "xla"),
    ("tiny_resnet", "matmul"),
  ]
  for r in result["rows"]:
    assert r["best_images_per_s"] >= r["median_images_per_s"] > 0


def test_every_listed_model_is_a_resnet_constructor():
  for name in backbones.MODELS:
    assert isinstance(getattr(resnet, name)(conv_impl="matmul"), resnet.ResNet)


@pytest.mark.parametrize(
  "flags, culprit",
  [
    (["--models", "tiny_resnet,vit_tiny"], "--models: unknown ['vit_tiny']"),
    (["--impls", "cudnn"], "--impls: unknown ['cudnn']"),
    (["--repeats", "0"], "--repeats=0: must be >= 1"),
  ],
)
def test_bad_flags_are_one_line_naming_the_flag(flags, culprit, capsys):
  with pytest.raises(SystemExit):
    bench.main(["backbones", *flags])
  err = capsys.readouterr().err
  assert culprit in err.splitlines()[-1]
