"""Smoke test of `python -m jaxssl.bench losses` (tiny memory mode)."""

import json

from jaxssl import bench
from jaxssl.bench import losses as bench_losses


def test_memory_mode_json(capsys):
  # Tiny sizes: this checks the entry point and its output; that tiling
  # bounds memory is test_blockwise.test_peak_memory_is_bounded.
  bench.main(
    [
      "losses",
      "--mode",
      "memory",
      "--sizes",
      "128",
      "--block_size",
      "32",
      "--json",
    ]
  )
  result = json.loads(capsys.readouterr().out)
  assert result["backend"] == "cpu"
  forms = {(r["loss"], r["form"]) for r in result["memory"]}
  assert forms == {
    (name, form)
    for name in ("nt_xent", "info_nce", "clip", "siglip")
    for form in ("dense", "block=32")
  }
  assert all(r["peak_MiB"] >= r["temp_MiB"] > 0 for r in result["memory"])


def test_timing_cases_cover_the_acceptance():
  names = {(c[0], c[1]) for c in bench_losses.timing_cases(quick=False)}
  assert ("nt_xent", "(512, 128)") in names
  assert ("nt_xent", "(4096, 256)") in names
  assert any(n == "dino" and "k=4096" in s for n, s in names)
  assert any(n == "supcon" for n, _ in names)
