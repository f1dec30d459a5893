"""Impute a pandas DataFrame with missing values, and compare with IterativeImputer.

California Housing with 20% of its values removed at random. FlowImputer keeps
the DataFrame's index, column names and dtypes (``set_output``), never changes
an observed value, and is compared column by column with scikit-learn's
IterativeImputer on the removed entries.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _common import FAST, figure_path
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from flowimpute import FlowImputer, NAFDensity
from flowimpute.amputation import ampute
from flowimpute.datasets import load_dataset

# A complete table, then the same table with holes.
frame = load_dataset("california").data.sample(1000 if FAST else 5000, random_state=0)
holes = pd.DataFrame(ampute(frame, "MCAR", rate=0.2, random_state=0),
                     index=frame.index, columns=frame.columns)
print(f"{holes.isna().mean().mean():.0%} of the values are missing")

# FlowImputer with a neural autoregressive flow; pandas in, pandas out.
imputer = FlowImputer(NAFDensity(max_epochs=10 if FAST else 100), random_state=0)
imputer.set_output(transform="pandas")
completed = imputer.fit_transform(holes)
assert completed.index.equals(holes.index) and list(completed.columns) == list(holes.columns)
assert (completed.dtypes == holes.dtypes).all()
assert (completed[holes.notna()] == holes[holes.notna()]).sum().sum() == holes.notna().sum().sum()

baseline = IterativeImputer(max_iter=25, random_state=0).set_output(transform="pandas")
baseline_completed = baseline.fit_transform(holes)

# Error on the removed entries, per column, in units of each column's spread.
missing = holes.isna()
scale = frame.std()


def rmse(result: pd.DataFrame) -> pd.Series:
    errors = ((result - frame) / scale).where(missing)
    return np.sqrt((errors ** 2).mean())


table = pd.DataFrame({"FlowImputer": rmse(completed),
                      "IterativeImputer": rmse(baseline_completed)})
print(table.round(3).to_string())

axis = table.plot.bar(figsize=(8, 4), rot=30)
axis.set_ylabel("RMSE on the removed values (std units)")
axis.set_title("California Housing, 20% MCAR")
plt.tight_layout()
plt.savefig(figure_path("impute_dataframe.png"), dpi=100)
