"""Detection of discrete columns (the grid step used for dequantization)."""

import numpy as np

from flowimpute.preprocessing.lattice import lattice_steps


def test_grid_columns_get_their_step_and_continuous_ones_zero():
    rng = np.random.RandomState(0)
    X = np.column_stack([
        rng.randint(0, 16, 200).astype(float),          # integer codes: step 1
        rng.randint(0, 5, 200) * 0.5 + 3.0,             # half steps with an offset
        rng.choice([0.0, 3.0], 200),                    # a two-valued flag
        rng.normal(size=200),                           # continuous
        np.arange(200, dtype=float),                    # a grid, but too many levels
        rng.choice([0.0, 1.0, 2.5], 200),               # uneven levels
    ])
    np.testing.assert_allclose(lattice_steps(X), [1.0, 0.5, 3.0, 0.0, 0.0, 0.0])


def test_missing_entries_are_ignored_and_a_single_level_is_not_a_grid():
    X = np.array([[1.0, 2.0], [np.nan, 2.0], [3.0, np.nan], [2.0, 2.0]])
    np.testing.assert_allclose(lattice_steps(X), [1.0, 0.0])


def test_decimal_grids_survive_rounding_error():
    levels = np.array([0.1, 0.2, 0.3, 0.7, 1.1])
    X = ((levels - 0.45) / 0.37)[:, None]               # standardized: not exact in binary
    np.testing.assert_allclose(lattice_steps(X), [0.1 / 0.37])
