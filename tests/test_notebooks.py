"""The Colab notebooks run top to bottom (smoke configs) and ship clean.

The notebook runs in a real Jupyter kernel through nbclient, the way a user
runs it, with `JAXSSL_NOTEBOOK_SMOKE=1` so that its parameters cell picks the
short `smoke` config (3 steps). The kernel must be this interpreter (the one
with jaxssl installed), whatever kernelspecs the machine has: see
`_use_this_interpreter_as_python3`.
"""

import os
import pathlib
import sys
import time

import nbclient
import nbformat
import pytest
from ipykernel import kernelspec
from jupyter_client import kernelspec as jupyter_kernelspec

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
QUICKSTART = REPO_ROOT / "colab" / "quickstart.ipynb"
TEXT = REPO_ROOT / "colab" / "text.ipynb"
CLIP = REPO_ROOT / "colab" / "clip.ipynb"


def _use_this_interpreter_as_python3(tmp_path, monkeypatch):
  """Makes kernel name `python3` start `sys.executable -m ipykernel_launcher`.

  nbclient asks jupyter_client's KernelSpecManager for the kernel named in
  the notebook. It returns the first `kernels/python3/kernel.json` found on
  the Jupyter data path (user dir, then `sys.prefix/share/jupyter`, then
  /usr/local and /usr; env first in a virtualenv). ipykernel's wheel installs
  one there with argv `python`, which jupyter_client maps to
  `sys.executable`, but a `python3` kernelspec installed by hand in the user
  or system dir may point at another interpreter without jaxssl.
  `$JUPYTER_PATH` is searched before all of them, so a kernelspec written
  there for `sys.executable` wins on any machine, and nothing outside
  `tmp_path` is touched.
  """
  data_dir = tmp_path / "jupyter"
  kernelspec.write_kernel_spec(data_dir / "kernels" / "python3")
  monkeypatch.setenv("JUPYTER_PATH", str(data_dir))
  # Connection files go here rather than to ~/.local/share/jupyter/runtime,
  # which may not be writable on CI; the platformdirs flag only silences
  # jupyter_core's migration warning.
  monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
  monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
  argv = jupyter_kernelspec.KernelSpecManager().get_kernel_spec("python3").argv
  assert argv[0] == sys.executable, argv


def _outputs(cell, output_type=None):
  return [
    o
    for o in cell.get("outputs", [])
    if output_type is None or o["output_type"] == output_type
  ]


def _text(cell) -> str:
  return "".join(o.get("text", "") for o in _outputs(cell, "stream"))


def _num_png(cell) -> int:
  return sum("image/png" in o.get("data", {}) for o in _outputs(cell))


def _cell(nb, snippet):
  """The one code cell whose source contains `snippet`."""
  cells = [c for c in nb.cells if c.cell_type == "code" and snippet in c.source]
  assert len(cells) == 1, f"{len(cells)} code cells contain {snippet!r}"
  return cells[0]


@pytest.mark.parametrize("path", [QUICKSTART, TEXT, CLIP], ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
  """Valid nbformat 4, python3 kernel, no outputs, a tagged parameters cell."""
  nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
  nbformat.validate(nb)
  assert nb.nbformat == 4
  assert nb.metadata.kernelspec.name == "python3"
  for cell in nb.cells:
    if cell.cell_type == "code":
      assert not cell.outputs and cell.execution_count is None, (
        f"outputs left in the cell starting {cell.source[:60]!r}: clear "
        "them before committing"
      )
  params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
  assert len(params) == 1
  assert 'os.environ.get("JAXSSL_NOTEBOOK_SMOKE", "0") == "1"' in (
    params[0].source
  )


def _kernel_env(tmp_path) -> dict[str, str]:
  """This process's environment, set for a smoke run of the notebook."""
  # conftest.py's 8 fake CPU devices stay out of the kernel: the notebook
  # would run as on one accelerator anyway, and 8 devices double its wall
  # time (SPMD compiles, one Orbax slice compile per replicated param). The
  # 8-device mesh is tested in tests/train.
  xla_flags = [
    f
    for f in os.environ.get("XLA_FLAGS", "").split()
    if not f.startswith("--xla_force_host_platform_device_count")
  ]
  return dict(
    os.environ,
    JAXSSL_NOTEBOOK_SMOKE="1",
    XLA_FLAGS=" ".join(xla_flags),
    # The notebook's WORKDIR comes from tempfile.mkdtemp: keep it here.
    TMPDIR=str(tmp_path),
    # No IPython profile or startup files from the machine.
    IPYTHONDIR=str(tmp_path / "ipython"),
  )


@pytest.mark.slow
def test_quickstart_runs(tmp_path, monkeypatch):
  _use_this_interpreter_as_python3(tmp_path, monkeypatch)
  nb = nbformat.read(QUICKSTART, as_version=4)
  # Run from colab/, where Jupyter users open it; the notebook walks up to
  # find configs/.
  client = nbclient.NotebookClient(
    nb,
    kernel_name="python3",
    timeout=600,
    startup_timeout=120,
    resources={"metadata": {"path": str(QUICKSTART.parent)}},
  )
  start = time.perf_counter()
  # Raises CellExecutionError at the first failing cell.
  client.execute(env=_kernel_env(tmp_path))
  elapsed = time.perf_counter() - start

  for cell in nb.cells:
    assert not _outputs(cell, "error"), cell.source
  # Exactly one image each: a figure displayed twice is a notebook bug too.
  assert _num_png(_cell(nb, "figures.plot_views(")) == 1, "augmented views"
  assert _num_png(_cell(nb, "writer.read_metrics(")) == 1, "loss curve"
  devices = _text(_cell(nb, "jax.devices()"))
  assert "backend:" in devices and "devices:" in devices, devices
  config = _text(_cell(nb, "configs_lib.load("))
  assert "(smoke)" in config and "batch 16, 3 steps" in config, config
  results = _text(_cell(nb, 'learned = summary["eval/knn_top1"]'))
  assert "steps: 3" in results and "learned encoder" in results, results
  workdirs = list(tmp_path.glob("jaxssl-quickstart-*"))
  assert len(workdirs) == 1 and (workdirs[0] / "metrics.jsonl").is_file()
  print(f"quickstart.ipynb (smoke) ran in {elapsed:.1f}s")


@pytest.mark.slow
def test_text_notebook_runs(tmp_path, monkeypatch):
  _use_this_interpreter_as_python3(tmp_path, monkeypatch)
  nb = nbformat.read(TEXT, as_version=4)
  client = nbclient.NotebookClient(
    nb,
    kernel_name="python3",
    timeout=600,
    startup_timeout=120,
    resources={"metadata": {"path": str(TEXT.parent)}},
  )
  start = time.perf_counter()
  client.execute(env=_kernel_env(tmp_path))
  elapsed = time.perf_counter() - start
  for cell in nb.cells:
    assert not _outputs(cell, "error"), cell.source
  corpus = _text(_cell(nb, "text_corpus.describe()"))
  assert "train:" in corpus and "documents" in corpus, corpus
  config = _text(_cell(nb, 'configs_lib.load("bert_mlm_quick"'))
  assert "(smoke)" in config and "[MASK]" in config, config
  assert _num_png(_cell(nb, "def plot_loss(")) == 1, "loss curve"
  guesses = _text(_cell(nb, "train.restore(BERT_WORKDIR"))
  assert guesses.count(" -> ") == 3, guesses
  assert "eval/mlm_accuracy" in _text(_cell(nb, "def show("))
  assert "eval/perplexity" in _text(_cell(nb, 'configs_lib.load("gpt_quick"'))
  samples = _text(_cell(nb, "next_token.texts("))
  assert "prompt:" in samples and "continuation:" in samples, samples
  print(f"text.ipynb (smoke) ran in {elapsed:.1f}s")


@pytest.mark.slow
def test_clip_notebook_runs(tmp_path, monkeypatch):
  _use_this_interpreter_as_python3(tmp_path, monkeypatch)
  nb = nbformat.read(CLIP, as_version=4)
  client = nbclient.NotebookClient(
    nb,
    kernel_name="python3",
    timeout=600,
    startup_timeout=120,
    resources={"metadata": {"path": str(CLIP.parent)}},
  )
  start = time.perf_counter()
  client.execute(env=_kernel_env(tmp_path))
  elapsed = time.perf_counter() - start
  for cell in nb.cells:
    assert not _outputs(cell, "error"), cell.source
  config = _text(_cell(nb, 'configs_lib.load("clip_quick"'))
  assert "(smoke)" in config and "batch 16, 3 steps" in config, config
  assert _num_png(_cell(nb, 'configs_lib.load("clip_quick"')) == 1, "pairs"
  scores = _text(_cell(nb, "summary = train.run("))
  assert "eval/zeroshot_top1" in scores and "eval/t2i_recall@5" in scores
  zero_shot = _cell(nb, "zeroshot.class_embeddings(")
  assert "zero-shot on these 8:" in _text(zero_shot)
  assert _num_png(zero_shot) == 1, "zero-shot grid"
  assert _num_png(_cell(nb, "figures.plot_i2t(")) == 1, "i2t"
  assert _num_png(_cell(nb, "figures.plot_t2i(")) == 1, "t2i"
  shown = _cell(nb, "display(Image(")
  assert "tsne_3.png" in _text(shown) and _num_png(shown) == 1
  print(f"clip.ipynb (smoke) ran in {elapsed:.1f}s")
