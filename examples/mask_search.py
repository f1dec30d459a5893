"""Coupling-mask structure search: the loss over search iterations, and the masks found.

CouplingFlowDensity(mask=MaskSearch(...)) runs the evolutionary search of
"Structure Search for Normalizing Flows" on the MAGIC telescope data: each
offspring re-shuffles some layers' masks, trains briefly, and is kept if its
held-out loss is not worse than the best so far.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import FAST, figure_path
from sklearn.preprocessing import StandardScaler

from flowimpute import CouplingFlowDensity, MaskSearch
from flowimpute.datasets import load_dataset

X = StandardScaler().fit_transform(load_dataset("magic").data.to_numpy())
X = X[np.random.RandomState(0).permutation(len(X))[:3000 if FAST else 15000]]
search = MaskSearch(search_iter=10 if FAST else 200, search_steps=20 if FAST else 50)
flow = CouplingFlowDensity(n_layers=6, mask=search, max_epochs=5 if FAST else 50,
                           random_state=0).fit(X)

history = flow.search_history_
losses = np.array(history["loss"])
accepted = np.array(history["accepted"])
print(f"search took {flow.search_seconds_:.1f} s; {accepted.sum() - 1} offspring accepted")
print("masks found (1 = transformed, 0 = conditioning):")
print(flow.masks_)

figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
left.plot(losses, ".", color="grey", label="offspring")
left.plot(np.flatnonzero(accepted), losses[accepted], "o-", color="C1", label="accepted")
left.set_xlabel("search iteration")
left.set_ylabel("held-out NLL after a short training")
left.legend()
right.imshow(flow.masks_, cmap="gray_r", aspect="auto")
right.set_xlabel("feature")
right.set_ylabel("coupling layer")
right.set_title("masks found (dark = transformed)")
plt.tight_layout()
plt.savefig(figure_path("mask_search.png"), dpi=100)
