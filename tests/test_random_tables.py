"""Every imputer on random tables and gap patterns, as users meet them.

A seeded search: each table draws its rows (one to fifty), its columns and
their kinds (floats at magnitudes from 1e-300 to 1e300, skewed floats, integers,
flags, text categories, constant columns), its gaps (completely at random,
plus rows and columns with nothing observed and columns with one observed
value) and whether it comes as a DataFrame or an array. Every imputer must
either refuse the table with one of the documented errors
(:data:`DOCUMENTED_ERRORS`) or return it complete: no missing value, observed
cells unchanged, the input's dtypes and columns (less the columns with
nothing observed, as scikit-learn's imputers drop them; a DataFrame comes
back as one, with ``set_output(transform="pandas")``).

CI draws :data:`N_TABLES` tables per imputer; ``FLOWIMPUTE_RANDOM_TABLES=1000
pytest tests/test_random_tables.py`` runs the long mode.
"""

import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from flowimpute import (
    ACFlowImputer,
    CouplingFlowDensity,
    FlowImputer,
    NAFDensity,
    SIReNVAE,
    VAEImputer,
    VFGImputer,
)

N_TABLES = int(os.environ.get("FLOWIMPUTE_RANDOM_TABLES", "10"))

#: Small, seeded configurations: the search is about inputs, not about fit quality.
IMPUTERS = {
    "acflow": lambda: ACFlowImputer(n_layers=2, hidden_dims=(8,), n_components=2, n_draws=3,
                                    max_epochs=2, random_state=0),
    "flow_naf": lambda: FlowImputer(
        NAFDensity(n_flows=1, hidden_dims=(8,), n_transformer_units=4, max_epochs=2),
        max_em_iter=1, em_epochs=1, n_gradient_steps=5, n_mcmc_steps=5, random_state=0),
    "flow_coupling": lambda: FlowImputer(
        CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=2), max_em_iter=1,
        em_epochs=1, n_mcmc_steps=5, random_state=0),
    "vae": lambda: VAEImputer(hidden_dims=(8,), n_importance=3, n_draws=3, max_epochs=2,
                              random_state=0),
    "vfg": lambda: VFGImputer(n_components=3, random_state=0),
    "vfg_tree": lambda: VFGImputer(max_epochs=2, hidden_dims=(8,), aggregation="weighted",
                                   random_state=0),
    "siren_vae": lambda: SIReNVAE(latent_variables=2, structure="complete",
                                  flow_hidden_dims=(8,), hidden_dims=(8,), n_importance=3,
                                  n_draws=3, max_epochs=2, random_state=0),
}

#: The errors an imputer may answer a valid but unusable table with, by the
#: start of their message (each is in the estimator's docs or the user guide).
DOCUMENTED_ERRORS = {
    "all": [r"Every column of X is entirely missing; there is nothing to learn",
            r"Every observed column of X takes a single value; there is nothing to learn",
            r"Found array with 1 sample\(s\) .* a minimum of 2 is required"],
    "siren_vae": [r"SIReNVAE models numeric columns, each a node of the network"],
}


def _float_column(rng: np.random.RandomState, n: int) -> np.ndarray:
    scale = 10.0 ** (rng.uniform(-300, 300) if rng.rand() < 0.15 else rng.uniform(-8, 9))
    offset = rng.choice([0.0, 10.0 ** rng.uniform(-3, 9)])
    noise = np.exp(rng.standard_normal(n)) if rng.rand() < 0.2 else rng.standard_normal(n)
    return offset + scale * noise


def random_table(seed: int) -> pd.DataFrame | np.ndarray:
    """One table of the search (see the module docstring)."""
    rng = np.random.RandomState(seed)
    n_rows = int(rng.choice([1, 2, 3, 5, 8, 20, 50], p=[.04, .08, .1, .14, .2, .24, .2]))
    n_columns = int(rng.randint(1, 7))
    numeric_only = rng.rand() < 0.3
    kinds = rng.choice(["float", "float", "int", "bool", "category", "constant"]
                       if not numeric_only else ["float", "float", "int", "constant"],
                       n_columns)
    columns = {}
    for index, kind in enumerate(kinds):
        name = f"c{index}"
        if kind == "float":
            columns[name] = _float_column(rng, n_rows)
        elif kind == "int":
            columns[name] = rng.randint(-3, 10 ** rng.randint(1, 7), n_rows)
        elif kind == "bool":
            columns[name] = rng.rand(n_rows) < rng.uniform(0.1, 0.9)
        elif kind == "category":
            levels = np.array(["red", "green", "blue", "a b", "ü"])[:rng.randint(1, 6)]
            columns[name] = rng.choice(levels, n_rows)
        else:
            columns[name] = np.full(n_rows, rng.choice([0.0, 1.0, -2.5e6, 3e-7]))
    frame = pd.DataFrame(columns)
    gaps = rng.rand(n_rows, n_columns) < rng.uniform(0.0, 0.8)
    if rng.rand() < 0.3:
        gaps[rng.randint(n_rows)] = True                  # a row with nothing observed
    if rng.rand() < 0.2:
        gaps[:, rng.randint(n_columns)] = True            # a column with nothing observed
    if rng.rand() < 0.2 and n_rows > 1:
        column = rng.randint(n_columns)                   # a column with one observed value
        gaps[:, column] = True
        gaps[rng.randint(n_rows), column] = False
    if numeric_only and rng.rand() < 0.5:
        values = frame.to_numpy(dtype=np.float64, copy=True)
        values[gaps] = np.nan
        return values
    for index, name in enumerate(frame):
        if gaps[:, index].any():
            if kinds[index] == "int":
                frame[name] = frame[name].astype("Int64")
            elif kinds[index] == "bool":
                frame[name] = frame[name].astype("boolean")
            elif kinds[index] == "category" and rng.rand() < 0.5:
                frame[name] = frame[name].astype("category")
            frame.loc[gaps[:, index], name] = None if kinds[index] == "category" else pd.NA
    return frame


def _is_documented(name: str, error: Exception) -> bool:
    patterns = DOCUMENTED_ERRORS["all"] + DOCUMENTED_ERRORS.get(name, [])
    return isinstance(error, ValueError) and any(re.search(p, str(error)) for p in patterns)


def check_table(name: str, X) -> str:
    """Fit and impute ``X`` with imputer ``name``; the outcome ("filled" or
    the refusal), or an AssertionError saying what broke the contract."""
    before = X.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imputer = IMPUTERS[name]()
            if isinstance(X, pd.DataFrame):
                imputer.set_output(transform="pandas")    # the input's dtypes back
            imputed = imputer.fit(X).transform(X)
    except Exception as error:
        if _is_documented(name, error):
            return f"refused: {str(error)[:40]}"
        raise AssertionError(f"{name}: undocumented {type(error).__name__}: {error}") from error
    is_frame = isinstance(X, pd.DataFrame)
    if is_frame:
        pd.testing.assert_frame_equal(X, before)
    else:
        np.testing.assert_array_equal(X, before)
    gaps = pd.DataFrame(X).isna().to_numpy()
    kept = ~gaps.all(axis=0)
    assert imputed.shape == (X.shape[0], int(kept.sum())), f"{name}: shape {imputed.shape}"
    if is_frame:
        assert isinstance(imputed, pd.DataFrame)
        expected = X.loc[:, kept]
        assert list(imputed.columns) == list(expected.columns)
        assert (imputed.dtypes == expected.dtypes).all(), f"{name}: dtypes {imputed.dtypes}"
        assert not imputed.isna().any().any(), f"{name}: missing values out"
        observed = expected.notna()
        pd.testing.assert_frame_equal(imputed[observed], expected[observed])
    else:
        assert not np.isnan(imputed).any(), f"{name}: missing values out"
        observed = ~gaps[:, kept]
        np.testing.assert_array_equal(imputed[observed], X[:, kept][observed])
    return "filled"


@pytest.mark.parametrize("name", sorted(IMPUTERS))
def test_every_random_table_is_filled_or_refused_with_a_documented_error(name):
    outcomes, broken = [], []
    for seed in range(N_TABLES):
        try:
            outcomes.append(check_table(name, random_table(seed)))
        except AssertionError as error:
            broken.append(f"table {seed}: {str(error).splitlines()[0][:300]}")
    assert not broken, f"{len(broken)} of {N_TABLES} tables broke the contract:\n" + \
        "\n".join(broken[:20])
    assert outcomes.count("filled") >= N_TABLES // 3, outcomes
