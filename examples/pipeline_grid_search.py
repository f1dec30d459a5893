"""A VFGImputer inside a scikit-learn Pipeline, tuned with GridSearchCV.

The imputer fills the gaps in the features, a Ridge regression predicts the
house value, and GridSearchCV chooses the depth of the imputer's flows
(``impute__n_coupling_layers``) by cross-validated R^2.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from _common import FAST, figure_path
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from flowimpute import VFGImputer
from flowimpute.amputation import ampute
from flowimpute.datasets import load_dataset

data = load_dataset("california")
rows = data.data.sample(600 if FAST else 4000, random_state=0).index
X = pd.DataFrame(ampute(data.data.loc[rows], "MCAR", 0.2, random_state=0),
                 columns=data.data.columns)
y = data.target.loc[rows].to_numpy()

pipeline = Pipeline([
    ("impute", VFGImputer(sections=[["MedInc", "HouseAge"], ["AveRooms", "AveBedrms"],
                                    ["Population", "AveOccup"], ["Latitude", "Longitude"]],
                          graph=[[0, 1], [2, 3]], max_epochs=5 if FAST else 60,
                          random_state=0)),
    ("model", Ridge()),
])
search = GridSearchCV(pipeline, {"impute__n_coupling_layers": [1, 2, 3]}, cv=3)
search.fit(X, y)
print("best depth:", search.best_params_["impute__n_coupling_layers"])
results = pd.DataFrame(search.cv_results_)
print(results[["param_impute__n_coupling_layers", "mean_test_score", "std_test_score"]]
      .round(3).to_string(index=False))

plt.figure(figsize=(5, 3.5))
plt.errorbar(results["param_impute__n_coupling_layers"].astype(int),
             results["mean_test_score"], yerr=results["std_test_score"], marker="o")
plt.xlabel("coupling layers per edge flow")
plt.ylabel("cross-validated R^2")
plt.title("Imputer depth chosen by GridSearchCV")
plt.tight_layout()
plt.savefig(figure_path("pipeline_grid_search.png"), dpi=100)
