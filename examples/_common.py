"""Settings shared by the examples: ``FLOWIMPUTE_EXAMPLES_FAST=1`` shrinks them
to a smoke run (CI and the documentation build use it), and
``FLOWIMPUTE_EXAMPLES_OUTPUT`` is the folder their figures go to."""

import os
from pathlib import Path

FAST = os.environ.get("FLOWIMPUTE_EXAMPLES_FAST") == "1"
OUTPUT = Path(os.environ.get("FLOWIMPUTE_EXAMPLES_OUTPUT", "."))
OUTPUT.mkdir(parents=True, exist_ok=True)


def figure_path(name: str) -> Path:
    """Where an example saves its figure ``name``."""
    return OUTPUT / name
