"""Should I trust this imputation? Look at it.

The credit table has real gaps (income, assets, debt, home, job). After
ACFlowImputer fills it, three pictures: each gapped column's observed
values against five drawn imputations, the training curves, and a
density's samples over the data. Imputed values need not match the
observed ones (these gaps are not at random), but curves far from them, or
draws that disagree wildly, deserve a look.
"""

import pandas as pd
from _common import FAST, figure_path

from flowimpute import ACFlowImputer, CouplingFlowDensity
from flowimpute.datasets import get_data_home
from flowimpute.plotting import plot_imputed_distributions, plot_samples, plot_training_history

credit = pd.read_csv(get_data_home() / "mixed" / "credit_data.csv.gz",
                     dtype_backend="numpy_nullable")
if FAST:
    credit = credit.sample(600, random_state=0)
print(credit.isna().sum()[lambda gaps: gaps > 0].to_string())

imputer = ACFlowImputer(max_epochs=5 if FAST else 200, random_state=0).fit(credit)
figure = plot_imputed_distributions(imputer, credit, n_imputations=5, random_state=0)
figure.savefig(figure_path("trust_plots.png"), dpi=90)

plot_training_history(imputer).savefig(figure_path("trust_plots_history.png"), dpi=90)

numbers = ["Income", "Assets", "Amount", "Price"]
density = CouplingFlowDensity(max_epochs=5 if FAST else 100, random_state=0)
density.fit(credit[numbers].dropna())
plot_samples(density, credit[numbers].dropna(), n_samples=500, random_state=0).savefig(
    figure_path("trust_plots_samples.png"), dpi=90)
