"""Which imputers the imputation suite runs where (its real run is
``python -m flowimpute.bench.imputation``)."""

import pandas as pd

from flowimpute.bench import imputation


def test_methods_run_by_default_named_only_and_mnar_only():
    names = list(imputation.imputers(0, 1))
    default_mcar = [n for n in names if imputation.is_selected(n, "MCAR", None)]
    default_mnar = [n for n in names if imputation.is_selected(n, "MNAR", None)]
    assert "FlowImputer(NAF+Coupling x3)" in default_mcar
    assert set(names) - set(default_mcar) == imputation.NAMED_ONLY | imputation.MNAR_ONLY
    assert set(names) - set(default_mnar) == imputation.NAMED_ONLY
    for name in imputation.NAMED_ONLY | imputation.MNAR_ONLY:
        assert imputation.is_selected(name, "MCAR", [name])
    assert not imputation.is_selected("FlowImputer(NAF)", "MCAR", ["VFGImputer"])


def test_epoch_cap_reaches_the_em_rounds_only_below_their_default():
    default = imputation.imputers(0, None)["FlowImputer(NAF)"]().em_epochs
    for cap, expected in ((None, default), (default + 20, default), (2, 2)):
        factories = imputation.imputers(0, cap)
        flow_imputers = [name for name in factories if name.startswith("FlowImputer")]
        assert {factories[name]().em_epochs for name in flow_imputers} == {expected}


def test_summarize_prints_the_tables_of_saved_runs(tmp_path, capsys):
    runs = pd.DataFrame({
        "dataset": "wine", "mechanism": "MCAR", "rate": 0.2, "seed": [0, 0, 1, 1],
        "method": ["ACFlowImputer", "mean"] * 2, "rmse": [0.5, 1.0, 0.7, 0.9],
        "fit_seconds": 1.0, "transform_seconds": 0.1})
    runs.iloc[:2].to_csv(tmp_path / "a.csv", index=False)
    runs.iloc[2:].to_csv(tmp_path / "b.csv", index=False)
    imputation.main(["--summarize", str(tmp_path / "a.csv"), str(tmp_path / "b.csv")])
    printed = capsys.readouterr().out
    assert "0.600 (0.500-0.700)" in printed and "from 2 run(s)" in printed
    verdict = ("| wine | MCAR | 0.2 | ACFlowImputer | ACFlowImputer 0.600 | mean 0.950 | 0.632 "
               "| 2/2 |")
    assert verdict in printed
