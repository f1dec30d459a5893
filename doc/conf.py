"""Sphinx configuration of the flowimpute documentation.

Building runs every script in ``examples/`` with ``FLOWIMPUTE_EXAMPLES_FAST=1``
(set ``FLOWIMPUTE_DOCS_FULL_EXAMPLES=1`` for the full-size runs) and draws the
VFG tree and DAG figures; their PNGs go to ``doc/_generated`` and the pages show them.
"""

import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOC = Path(__file__).resolve().parent
ROOT = DOC.parent
GENERATED = DOC / "_generated"
EXAMPLES = ["impute_dataframe", "impute_mixed_table", "pipeline_grid_search", "density_2d",
            "mask_search", "multiple_imputation", "trust_plots", "vfg_digits"]
sys.path.insert(0, str(ROOT))

import flowimpute  # noqa: E402

project = "flowimpute"
author = "the flowimpute developers"
release = flowimpute.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.mathjax", "numpydoc"]
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
autodoc_default_options = {"members": True, "inherited-members": False}
exclude_patterns = ["_build", "_generated/*.log"]
html_theme = "alabaster"
html_title = f"flowimpute {release}"


def draw_vfg_tree(path: Path) -> None:
    """The California model of the VFG paper: four sections, two aggregation
    nodes, one root; edges are invertible flows."""
    nodes = {"root": (3.0, 3.0), "h1": (1.5, 2.0), "h2": (4.5, 2.0)}
    sections = ["MedInc\nHouseAge", "AveRooms\nAveBedrms", "Population\nAveOccup",
                "Latitude\nLongitude"]
    for i, label in enumerate(sections):
        nodes[label] = (0.75 + 1.5 * i, 1.0)
    edges = [("h1", "root"), ("h2", "root"), (sections[0], "h1"), (sections[1], "h1"),
             (sections[2], "h2"), (sections[3], "h2")]
    figure, axis = plt.subplots(figsize=(7, 3.6))
    for child, parent in edges:
        (x0, y0), (x1, y1) = nodes[child], nodes[parent]
        axis.annotate("", xy=(x1, y1 - 0.17), xytext=(x0, y0 + 0.2),
                      arrowprops={"arrowstyle": "->", "color": "C0"})
        axis.text((x0 + x1) / 2 + 0.05, (y0 + y1) / 2, "flow", fontsize=7, color="C0")
    for name, (x, y) in nodes.items():
        leaf = name in sections
        axis.text(x, y, name if leaf else {"root": "root", "h1": "mean", "h2": "mean"}[name],
                  ha="center", va="center", fontsize=8,
                  bbox={"boxstyle": "round", "fc": "#f3f3f3" if leaf else "#dde8f5"})
    axis.set_xlim(0, 6)
    axis.set_ylim(0.5, 3.4)
    axis.axis("off")
    axis.set_title("VFG for California Housing: sections (leaves) encoded up the tree")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def draw_vfg_dag(path: Path) -> None:
    """The VFG of the DAG benchmark, drawn by plot_vfg_graph (one epoch fits it)."""
    from flowimpute import VFGImputer
    from flowimpute.datasets import SECTION_DAG, make_section_dag
    from flowimpute.plotting import plot_vfg_graph

    imputer = VFGImputer(sections=[[0, 1], [2, 3], [4, 5], [6, 7]], graph=SECTION_DAG,
                         max_epochs=1, random_state=0).fit(make_section_dag(200, random_state=0))
    plot_vfg_graph(imputer).savefig(path, dpi=90)


def run_examples() -> None:
    env = {**os.environ, "FLOWIMPUTE_EXAMPLES_OUTPUT": str(GENERATED)}
    if os.environ.get("FLOWIMPUTE_DOCS_FULL_EXAMPLES") != "1":
        env["FLOWIMPUTE_EXAMPLES_FAST"] = "1"
    for name in EXAMPLES:
        log = GENERATED / f"{name}.log"
        with log.open("w") as output:
            done = subprocess.run([sys.executable, f"{name}.py"], cwd=ROOT / "examples",
                                  env=env, stdout=output, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise RuntimeError(f"examples/{name}.py failed; see {log}")


GENERATED.mkdir(exist_ok=True)
draw_vfg_tree(GENERATED / "vfg_tree.png")
draw_vfg_dag(GENERATED / "vfg_dag.png")
run_examples()
