"""Representations from a VFG: handwritten digits, four quadrants, one root.

scikit-learn's 8x8 digits, split into four 4x4 quadrants (the sections),
joined by one aggregation node: the VFG paper's representation experiment
(section 5.2) at digits' size. The root's 16 coordinates are each image's
representation. A linear classifier on them is compared with one on PCA of
the same width, with the standard prior and with the prior whose means
depend on the label (``prior="label"``, fitted with ``y``); the figure is a
t-SNE map of the test digits in each representation.
"""

import numpy as np
from _common import FAST, figure_path
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from flowimpute import VFGEncoder

WIDTH = 16
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)
quadrants = [[8 * row + column for row in rows for column in columns]
             for rows in (range(4), range(4, 8)) for columns in (range(4), range(4, 8))]


def probe(representation) -> tuple[float, np.ndarray]:
    """Test accuracy of a linear classifier on ``representation``, and the test states."""
    pipeline = make_pipeline(representation, StandardScaler(),
                             LogisticRegression(max_iter=5000))
    pipeline.fit(X_train, y_train)
    return pipeline.score(X_test, y_test), pipeline[:-2].transform(X_test)


settings = {"PCA": PCA(WIDTH, random_state=0)}
for prior in ("standard", "label"):
    settings[f"VFG, {prior} prior"] = VFGEncoder(
        sections=quadrants, graph=[0, 1, 2, 3], latent_dim=WIDTH, prior=prior,
        max_epochs=3 if FAST else 300, random_state=0)
results = {name: probe(representation) for name, representation in settings.items()}
for name, (accuracy, _) in results.items():
    print(f"{name:<22} linear-probe test accuracy {accuracy:.3f} ({WIDTH} features)")

figure = Figure(figsize=(12, 4), layout="constrained")
for axis, (name, (accuracy, states)) in zip(figure.subplots(1, 3), results.items(), strict=True):
    embedded = TSNE(random_state=0, init="pca").fit_transform(states)
    points = axis.scatter(*embedded.T, c=y_test, cmap="tab10", s=6)
    axis.set_title(f"{name}: accuracy {accuracy:.3f}", fontsize=9)
    axis.set_xticks([])
    axis.set_yticks([])
figure.colorbar(points, ax=figure.axes, label="digit", ticks=range(10))
figure.savefig(figure_path("vfg_digits.png"), dpi=90)
