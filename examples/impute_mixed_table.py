"""Impute a mixed table: text categories, integers and numbers, with real gaps.

The Palmer penguins: species, island and sex are text, the year an integer,
the measurements numbers, and 19 cells are missing in the data as recorded.
ACFlowImputer fills the table as it is: the result is a DataFrame with the
input's dtypes, each imputed category one the column had, each imputed year
an integer. To score it, 20% more cells are hidden at random; the table
compares it with the most frequent category and the mean on those cells.
A density of the same table then draws synthetic penguins.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _common import FAST, figure_path

from flowimpute import ACFlowImputer, CouplingFlowDensity
from flowimpute.amputation import mcar_mask
from flowimpute.bench.mixed_baselines import MostFrequentMeanImputer
from flowimpute.datasets import load_mixed

penguins = load_mixed("penguins")
print(penguins.dtypes.to_string(), f"\n{penguins.isna().sum().sum()} cells missing as recorded")

# 20% more cells hidden at random; the recorded gaps stay and are not scored.
# The year becomes a nullable integer, so that its gaps do not turn it into floats.
hidden = mcar_mask(penguins.to_numpy(), 0.2, random_state=0) & penguins.notna().to_numpy()
holes = penguins.astype({"year": "Int64"}).mask(hidden)

imputer = ACFlowImputer(max_epochs=20 if FAST else 200, random_state=0)
completed = imputer.fit_transform(holes)
assert (completed.dtypes == holes.dtypes).all() and not completed.isna().any().any()
assert set(completed["species"]) <= set(penguins["species"].dropna())

most_frequent_or_mean = MostFrequentMeanImputer().fit_transform(holes)
scores = {}
for name in penguins:
    rows = hidden[:, penguins.columns.get_loc(name)]
    truth = penguins[name][rows]
    if penguins[name].dtype == "str":
        scores[name] = [(result[name][rows] == truth).mean()
                        for result in (completed, most_frequent_or_mean)]
    else:
        scale = penguins[name].std()
        scores[name] = [np.sqrt((((result[name][rows] - truth) / scale) ** 2).mean())
                        for result in (completed, most_frequent_or_mean)]
table = pd.DataFrame(scores, index=["ACFlowImputer", "most frequent / mean"]).T
table["measure"] = ["accuracy" if penguins[name].dtype == "str" else "RMSE (std units)"
                    for name in table.index]
print(table.round(3).to_string())

# Synthetic penguins from a density of the complete rows.
density = CouplingFlowDensity(max_epochs=20 if FAST else 200, random_state=0)
synthetic = density.fit(penguins.dropna()).sample(300, random_state=0)
print(synthetic.head().to_string())

figure, axes = plt.subplots(1, 2, figsize=(10, 4))
table.drop(columns="measure").plot.bar(ax=axes[0], rot=30)
axes[0].set_title("Hidden cells: accuracy (text) or RMSE (numbers)")
for species, group in synthetic.groupby("species"):
    axes[1].scatter(group["bill_length_mm"], group["flipper_length_mm"], s=8, label=species)
axes[1].set_xlabel("bill length (mm)")
axes[1].set_ylabel("flipper length (mm)")
axes[1].set_title("Synthetic penguins by species")
axes[1].legend()
plt.tight_layout()
plt.savefig(figure_path("impute_mixed_table.png"), dpi=100)
