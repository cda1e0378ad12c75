"""Smoke test of the loss benchmark entry point (tiny memory mode)."""

import json

from jaxssl import bench_losses


def test_memory_mode_json(capsys):
  bench_losses.main(["--mode", "memory", "--sizes", "2048", "--block_size",
                     "64", "--json"])
  result = json.loads(capsys.readouterr().out)
  rows = {(r["loss"], r["form"]): r for r in result["memory"]}
  assert {name for name, _ in rows} == {"nt_xent", "info_nce", "clip",
                                        "siglip"}
  for name in ("nt_xent", "info_nce", "clip", "siglip"):
    # At N = 2048 the [N, N] terms already dominate the O(N·d) ones.
    assert (rows[(name, "block=64")]["temp_MiB"]
            < 0.5 * rows[(name, "dense")]["temp_MiB"])


def test_timing_cases_cover_the_acceptance():
  names = {(c[0], c[1]) for c in bench_losses.timing_cases(quick=False)}
  assert ("nt_xent", "(512, 128)") in names
  assert ("nt_xent", "(4096, 256)") in names
  assert any(n == "dino" and "k=4096" in s for n, s in names)
  assert any(n == "supcon" for n, _ in names)
