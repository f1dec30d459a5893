"""The mixed-table benchmark: its baselines, scores and verdict on a small table."""

import numpy as np
import pandas as pd

from flowimpute.bench.mixed import errors, hide_cells, load_table, main, verdict
from flowimpute.bench.mixed_baselines import (
    MixedMissForest,
    MostFrequentMeanImputer,
    OneHotKNNImputer,
)


def test_baselines_fill_mixed_tables_in_their_dtypes():
    truth = load_table("penguins")
    frame, hidden = hide_cells(truth, 0.2, 0)
    assert hidden.any() and not (hidden & truth.isna().to_numpy()).any()
    for imputer in (MostFrequentMeanImputer(), OneHotKNNImputer(),
                    MixedMissForest(n_estimators=10, max_iter=2)):
        filled = imputer.fit_transform(frame)
        assert not filled.isna().any().any() and (filled.dtypes == frame.dtypes).all()
        observed = frame.notna()
        pd.testing.assert_frame_equal(filled[observed], frame[observed])


def test_scores_of_a_perfect_and_a_constant_fill():
    truth = load_table("penguins").dropna().reset_index(drop=True)
    frame, hidden = hide_cells(truth, 0.3, 1)
    assert errors(truth, truth, hidden) == {"numeric_rmse": 0.0, "categorical_accuracy": 1.0}
    scores = errors(truth, MostFrequentMeanImputer().fit_transform(frame), hidden)
    assert 0.9 < scores["numeric_rmse"] < 1.2 and 0.3 < scores["categorical_accuracy"] < 0.6


def test_run_writes_rows_and_the_verdict(tmp_path, capsys):
    main(["--tables", "penguins", "--rates", "0.2", "--output", str(tmp_path),
          "--methods", "most frequent + mean", "MissForest(RF)", "ACFlowImputer"])
    runs = pd.read_csv(tmp_path / "mixed_runs.csv")
    assert list(runs["method"]) == ["most frequent + mean", "MissForest(RF)", "ACFlowImputer"]
    assert np.isfinite(runs[["numeric_rmse", "categorical_accuracy", "seconds"]]).all().all()
    decided = verdict(runs)
    assert len(decided) == 1 and decided["numeric_rmse best baseline"].iloc[0] in set(
        runs["method"])
    printed = capsys.readouterr().out
    assert "penguins 20% seed 0 ACFlowImputer: numeric RMSE" in printed
    assert "categorical_accuracy win" in printed
