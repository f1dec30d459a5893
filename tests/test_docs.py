"""The documentation builds without warnings, running every example on the way."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["impute_dataframe", "impute_mixed_table", "pipeline_grid_search", "density_2d",
            "mask_search", "multiple_imputation", "trust_plots", "vfg_digits"]


def test_docs_build_with_examples_and_figures(tmp_path):
    html = tmp_path / "html"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html",
         str(ROOT / "doc"), str(html)],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    for page in ["index", "user_guide/vfg", "examples", "api"]:
        assert (html / f"{page}.html").is_file(), page
    images = {path.name for path in (html / "_images").iterdir()}
    for name in [*EXAMPLES, "vfg_tree", "vfg_dag"]:
        assert f"{name}.png" in images, name
    examples_page = (html / "examples.html").read_text()
    assert all(f"{name}.png" in examples_page for name in EXAMPLES)
