"""The scale benchmark's machinery on tiny sizes (its real run is
``python -m flowimpute.bench.scale``)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer

from flowimpute.bench import scale


def test_table_is_reproducible_and_correlated():
    X = scale.make_table(2000, seed=1)
    assert X.shape == (2000, scale.N_COLUMNS) and np.isfinite(X).all()
    np.testing.assert_array_equal(X, scale.make_table(2000, seed=1))
    assert not np.array_equal(X[:10], scale.make_table(2000, seed=2)[:10])
    correlation = np.abs(np.corrcoef(X.T)[np.triu_indices(scale.N_COLUMNS, 1)])
    assert correlation.max() > 0.5


def test_throughput_skips_runs_projected_past_the_budget(monkeypatch):
    monkeypatch.setattr(scale, "FIT_ROWS", 300)
    frame = scale.run_throughput([200, 400], {"mean": SimpleImputer}, budget=1e-9,
                                 progress=lambda message: None)
    assert list(frame["n_rows"]) == [200, 400]
    assert frame["rows_per_second"].iloc[0] > 0
    assert frame["skipped"].iloc[1].startswith("projected")


def test_growth_and_plot(tmp_path):
    growth = scale.run_growth([200, 400], {"mean": SimpleImputer}, budget=100.0,
                              progress=lambda message: None)
    assert (growth["fit_seconds"] > 0).all()
    throughput = pd.DataFrame({"method": ["mean"] * 2, "n_rows": [200, 400],
                               "transform_seconds": [0.1, 0.2]})
    scale._plot(throughput, growth, tmp_path / "scale.png")
    assert (tmp_path / "scale.png").read_bytes()[:4] == b"\x89PNG"


def test_wide_tables_report_seconds_and_error_and_skip_past_the_budget():
    frame = scale.run_wide([15, 30], {"mean": SimpleImputer}, budget=1e-9,
                           progress=lambda message: None)
    assert list(frame["n_columns"]) == [scale.WIDE_COLUMNS] * 2
    first = frame.iloc[0]
    assert first["seconds"] > 0 and 0.5 < first["rmse"] < 2.0   # the mean: about 1 sd
    assert frame["skipped"].iloc[1].startswith("projected")
    assert set(scale.wide_imputers(0)) >= {"IterativeImputer(10 rounds)", "KNN(k=5)"}


def test_epoch_pairs_have_matching_shapes():
    pytest.importorskip("zuko")
    frame = scale.run_epoch_speed(300, epochs=1, batch_size=128, progress=lambda m: None)
    assert set(frame["family"]) == {"RealNVP", "NAF", "MAF"} and len(frame) == 9
    assert (frame["seconds_per_epoch"] > 0).all()
    counts = frame.groupby("family")["parameters"]
    assert (counts.max() / counts.min() < 1.03).all()   # equal-size pairs


def test_speedups_divide_by_the_reference_at_each_size():
    throughput = pd.DataFrame({"method": ["fast", "fast", "slow", "slow"],
                               "n_rows": [10, 20, 10, 20],
                               "rows_per_second": [100.0, 300.0, 10.0, np.nan]})
    ratios = scale.speedups(throughput, "slow")
    assert ratios.loc["fast", 10] == 10.0 and np.isnan(ratios.loc["fast", 20])
