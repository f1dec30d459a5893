"""2-D density estimation: CouplingFlowDensity, NAFDensity and GaussianMixture.

All three are fitted to a ring of eight Gaussians; the figure shows each
model's density as contours, with samples drawn from it.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import FAST, figure_path
from sklearn.mixture import GaussianMixture

from flowimpute import CouplingFlowDensity, NAFDensity
from flowimpute.datasets import make_ring_of_gaussians

X_train = make_ring_of_gaussians(2000 if FAST else 6000, n_modes=8, random_state=0)
X_test = make_ring_of_gaussians(2000, n_modes=8, random_state=1)
epochs = 10 if FAST else 150
models = {
    "CouplingFlowDensity": CouplingFlowDensity(n_layers=8, max_epochs=epochs, random_state=0),
    "NAFDensity (DSF)": NAFDensity(n_flows=2, max_epochs=epochs, random_state=0),
    "GaussianMixture(4)": GaussianMixture(4, random_state=0),
}
grid = np.linspace(-3.5, 3.5, 150)
points = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
figure, axes = plt.subplots(1, 3, figsize=(13, 4.3))
for axis, (name, model) in zip(axes, models.items(), strict=True):
    model.fit(X_train)
    density = np.exp(model.score_samples(points)).reshape(len(grid), len(grid))
    if isinstance(model, GaussianMixture):   # seeded by its random_state; returns labels too
        samples = model.sample(500)[0]
    else:
        samples = model.sample(500, random_state=0)
    axis.contourf(grid, grid, density, levels=20, cmap="viridis")
    axis.scatter(samples[:, 0], samples[:, 1], s=2, c="white", alpha=0.6)
    axis.set_title(f"{name}\nheld-out log-lik {model.score(X_test):.2f}")
    axis.set_aspect("equal")
    print(f"{name}: held-out mean log-likelihood {model.score(X_test):.3f}")
plt.tight_layout()
plt.savefig(figure_path("density_2d.png"), dpi=100)
