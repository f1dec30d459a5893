"""The main job (``flowimpute bench``'s overview): its protocol, standings,
verdict and report, and the adapters of the peer libraries."""

import importlib.util

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer

from flowimpute.bench import overview, peers
from flowimpute.bench.imputation import make_setting
from flowimpute.bench.mixed import hide_cells, load_table
from flowimpute.cli import main


def _runs(rmse: dict[str, dict[str, float]], families: dict[str, str],
          seconds: dict[str, float]) -> pd.DataFrame:
    """Records as :func:`overview.run` makes them, from RMSE by table and method."""
    records = []
    for table, by_method in rmse.items():
        for method, value in by_method.items():
            records.append({"table": table, "kind": "numeric", "rows": 100, "columns": 4,
                            "method": method, "family": families[method], "rmse": value,
                            "accuracy": np.nan, "protocol": "held-out",
                            "error": None if np.isfinite(value) else "ValueError: x",
                            "seconds": seconds[method]})
    return pd.DataFrame.from_records(records)


FAMILIES = {"ours": overview.FLOWIMPUTE, "forest": overview.BASELINE,
            "mean": overview.BASELINE}
SECONDS = {"ours": 10.0, "forest": 2.0, "mean": 0.01}


def test_standings_are_geometric_means_of_errors_relative_to_the_best_per_table():
    runs = _runs({"a": {"ours": 0.5, "forest": 1.0, "mean": 2.0},
                  "b": {"ours": 0.8, "forest": 0.4, "mean": 1.6}}, FAMILIES, SECONDS)
    ranks = overview.standings(runs)
    assert ranks.loc["ours", "relative RMSE"] == pytest.approx(np.sqrt(1.0 * 2.0), abs=1e-3)
    assert ranks.loc["forest", "relative RMSE"] == pytest.approx(np.sqrt(2.0 * 1.0), abs=1e-3)
    assert ranks.loc["mean", "relative RMSE"] == pytest.approx(4.0)
    assert ranks["best on"].to_dict() == {"ours": 1, "forest": 1, "mean": 0}
    assert list(ranks.index)[-1] == "mean"


def test_verdict_recommends_flowimpute_only_when_it_has_the_lower_error():
    winning = _runs({"a": {"ours": 0.5, "forest": 1.0, "mean": 2.0},
                     "b": {"ours": 0.3, "forest": 0.4, "mean": 1.6}}, FAMILIES, SECONDS)
    lines = "\n".join(overview.verdict(winning))
    assert "Most accurate over the 2 tables: **ours**" in lines
    ratio = np.sqrt(0.5 / 1.0 * 0.3 / 0.4)
    assert f"RMSE ratio {ratio:.3f}" in lines and "lower on 2 of 2 tables" in lines
    assert "at 5.0x its time" in lines and "use ours" in lines

    losing = _runs({"a": {"ours": 1.5, "forest": 1.0, "mean": 2.0},
                    "b": {"ours": 0.6, "forest": 0.4, "mean": 1.6}}, FAMILIES, SECONDS)
    lines = "\n".join(overview.verdict(losing))
    assert "Most accurate over the 2 tables: **forest**" in lines
    assert "forest gives the lower point-imputation error" in lines
    assert "use ours" not in lines

    level = _runs({"a": {"ours": 1.01, "forest": 1.0, "mean": 2.0},
                   "b": {"ours": 0.4, "forest": 0.404, "mean": 1.6}}, FAMILIES, SECONDS)
    lines = "\n".join(overview.verdict(level))
    assert "The two are level here (within 3%); forest is the cheaper" in lines


def test_a_failed_run_is_left_out_of_the_ranking_and_marked_in_the_table():
    runs = _runs({"a": {"ours": np.nan, "forest": 1.0, "mean": 2.0},
                  "b": {"ours": 0.3, "forest": 0.4, "mean": 1.6}}, FAMILIES, SECONDS)
    assert overview.standings(runs).loc["ours", "tables"] == 1
    table = overview.error_table(runs)
    assert table.loc["a", "ours"] == "failed"
    assert table.loc["a", "forest"] == "**1.000**" and table.loc["b", "ours"] == "**0.300**"
    assert "(1 failed)" in overview.table_line(runs[runs["table"] == "a"])


class _RecordingPeer:
    """Records the rows it was fitted on and fills gaps with column means."""

    def __init__(self, in_sample: bool) -> None:
        self.in_sample = in_sample

    def fit(self, X):
        self.fitted_rows_ = len(X)
        self.imputer_ = SimpleImputer().fit(X)
        return self

    def transform(self, X):
        return self.imputer_.transform(X)


def test_a_peer_that_learns_only_from_the_rows_it_fills_fills_training_and_test_rows_together():
    setting = make_setting("wine", "MCAR", 0.2, 0, None)
    for in_sample, rows, protocol in ((False, len(setting.X_fit), "held-out"),
                                      (True, setting.n_rows, "in-sample")):
        peer = _RecordingPeer(in_sample)
        scores, used = overview._numeric_run(peer, setting)
        assert (peer.fitted_rows_, used) == (rows, protocol)
        assert np.isfinite(scores["rmse"])


def test_peers_missing_from_the_environment_are_named_with_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    factories, notes = peers.peer_imputers(0)
    assert factories == {}
    assert len(notes) == 2 and all(peers.INSTALL_HINT in note for note in notes)


class _MeanPlugin:
    """Stands in for a HyperImpute plugin: column means of a DataFrame."""

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.fillna(frame.mean())


def test_hyperimpute_adapter_returns_mixed_tables_in_their_dtypes_with_valid_categories(
        monkeypatch):
    monkeypatch.setattr(peers.HyperImputeImputer, "_new_plugin", lambda self: _MeanPlugin())
    truth = load_table("penguins")
    frame, _ = hide_cells(truth, 0.2, 0)
    filled = peers.HyperImputeImputer("missforest").fit_transform(frame)
    assert not filled.isna().any().any() and (filled.dtypes == frame.dtypes).all()
    observed = frame.notna()
    pd.testing.assert_frame_equal(filled[observed], frame[observed])
    for name in ("species", "island", "sex"):
        assert set(filled[name]) <= set(frame[name].dropna())


@pytest.mark.skipif(importlib.util.find_spec("miceforest") is None,
                    reason="miceforest is an optional peer (pip install -e .[peers])")
def test_miceforest_adapter_imputes_new_rows():
    setting = make_setting("wine", "MCAR", 0.2, 0, None)
    imputed = peers.MiceForestImputer(iterations=1).fit(setting.X_fit).transform(
        setting.X_apply)
    assert not np.isnan(imputed).any()
    observed = ~setting.hidden
    np.testing.assert_allclose(imputed[observed], setting.X_apply[observed])


def test_the_main_command_prints_each_table_as_it_finishes_and_writes_the_report(
        tmp_path, capsys):
    assert main(["bench", "--datasets", "wine", "--mixed-tables", "penguins", "--methods",
                 "mean", "KNN(k=5)", "ACFlowImputer", "--no-progress", "--no-peers",
                 "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.index("wine (numeric, 178 x 13, RMSE") < out.index("penguins (mixed, 344 x 8")
    assert out.index("penguins (mixed") < out.index("## Which imputer on tables like yours")
    report = (tmp_path / "report.md").read_text()
    assert report.splitlines()[2] == "## Which imputer on tables like yours, at what cost"
    assert "- Most accurate over the 2 tables" in report
    assert "![overview](overview.png)" in report
    assert "![imputed_distributions](imputed_distributions.png)" in report
    runs = pd.read_csv(tmp_path / "overview.csv")
    assert len(runs) == 6 and runs["rmse"].notna().all()
    assert (tmp_path / "overview.png").stat().st_size > 0
    assert (tmp_path / "imputed_distributions.png").stat().st_size > 0


def test_without_a_data_folder_the_main_command_says_where_it_looked(tmp_path, monkeypatch,
                                                                     capsys):
    def nowhere(data_home=None):
        raise FileNotFoundError("No data folder found (tried: /x/shared/data). Set "
                                "FLOWIMPUTE_DATA to the folder holding the CSV files.")

    monkeypatch.setattr("flowimpute.datasets.get_data_home", nowhere)
    assert main(["bench", "--no-progress", "--output", str(tmp_path)]) == 2
    assert "flowimpute bench: No data folder found (tried: /x/shared/data)" in \
        capsys.readouterr().err


def test_hyperimpute_is_left_out_with_a_note_under_pandas_3(monkeypatch):
    """HyperImpute 0.1.17 writes its imputations by chained assignment, which
    pandas 3 ignores: it would report the column means as its imputations."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: object() if name == "hyperimpute" else real_find_spec(name))
    monkeypatch.setattr(pd, "__version__", "3.0.0")
    factories, notes = peers.peer_imputers(0)
    assert not any(name.startswith("HyperImpute") for name in factories)
    assert any("pandas 3" in note for note in notes)
    monkeypatch.setattr(pd, "__version__", "2.3.3")
    factories, _ = peers.peer_imputers(0)
    assert set(peers.HYPERIMPUTE_PLUGINS) <= set(factories)


def test_a_peer_that_learns_from_the_rows_it_fills_is_named_in_sample_on_every_table(
        monkeypatch):
    monkeypatch.setattr(overview, "peer_imputers", lambda seed: (
        {"online": lambda: _RecordingPeer(False), "offline": lambda: _RecordingPeer(True)},
        []))
    for mixed_table in (False, True):
        chosen, _ = overview.candidates(0, mixed_table=mixed_table)
        assert {"online", "offline (in-sample)"} <= set(chosen)
        assert chosen["offline (in-sample)"].family == overview.PEER
