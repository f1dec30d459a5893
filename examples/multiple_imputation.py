"""Multiple imputation: the spread of plausible values for one column.

FlowImputer.sample_imputations draws completions from p(x_missing | x_observed)
with Metropolis-adjusted Langevin chains. For a few rows of the Wine Quality
data with alcohol removed, the figure shows the draws beside the single
point imputation and the true value.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import FAST, figure_path

from flowimpute import CouplingFlowDensity, FlowImputer
from flowimpute.datasets import load_dataset

frame = load_dataset("wine_quality_white").data
X = frame.to_numpy()[: 1500 if FAST else None]
column = list(frame.columns).index("alcohol")
X_missing = X.copy()
rows = np.random.RandomState(0).rand(len(X)) < 0.3
X_missing[rows, column] = np.nan

imputer = FlowImputer(CouplingFlowDensity(n_layers=6, max_epochs=10 if FAST else 100),
                      random_state=0).fit(X_missing)
shown = np.flatnonzero(rows)[:8]
point = imputer.transform(X_missing[shown])[:, column]
draws = imputer.sample_imputations(X_missing[shown], n_imputations=10 if FAST else 50,
                                   random_state=0)[:, :, column]
for i, row in enumerate(shown):
    print(f"row {row}: true {X[row, column]:.2f}, point {point[i]:.2f}, "
          f"draws {draws[:, i].mean():.2f} ± {draws[:, i].std():.2f}")

plt.figure(figsize=(8, 4))
plt.boxplot(draws, positions=range(len(shown)))
plt.scatter(range(len(shown)), X[shown, column], marker="x", color="C3", label="true value",
            zorder=3)
plt.scatter(range(len(shown)), point, marker="o", color="C0", label="point imputation",
            zorder=3)
plt.xlabel("row with alcohol missing")
plt.ylabel("alcohol (% vol)")
plt.legend()
plt.title("Multiple imputation draws (boxes) for one column")
plt.tight_layout()
plt.savefig(figure_path("multiple_imputation.png"), dpi=100)
