import pandas as pd
import pytest

from flowimpute.cli import main


def test_quick_bench_writes_its_report(tmp_path, capsys):
    """The CI smoke run of the README's main command, end to end."""
    assert main(["bench", "--preset", "quick", "--no-progress", "--output", str(tmp_path)]) == 0
    density = pd.read_csv(tmp_path / "density.csv")
    assert set(density["method"]) == {"CouplingFlowDensity", "GaussianMixture(1)",
                                      "GaussianMixture(10)", "KernelDensity(CV)"}
    assert density["test_loglik"].notna().all()
    runs = pd.read_csv(tmp_path / "imputation.csv")
    assert {"FlowImputer(NAF)", "VFGImputer", "MissForest(ExtraTrees)"} <= set(runs["method"])
    assert set(runs["mechanism"]) == {"MCAR", "MNAR"}
    assert runs["rmse"].notna().all() and (runs["rmse"] > 0).all()
    report = (tmp_path / "report.md").read_text()
    assert "## Density estimation" in report and "## Imputation" in report
    assert "| wine |" in report and "| diabetes | MCAR |" in report
    assert "## Imputation" in capsys.readouterr().out
    for figure in ("density.png", "imputation.png"):
        assert (tmp_path / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failures_are_recorded_not_fatal(tmp_path, monkeypatch):
    from flowimpute.bench import density

    def broken(seed):
        raise RuntimeError("boom")

    methods = {"broken": broken, **density.density_methods("quick")}
    monkeypatch.setattr("flowimpute.cli.density_methods", lambda *args: methods)
    main(["bench", "--preset", "quick", "--tasks", "density", "--datasets", "wine",
          "--methods", "broken", "GaussianMixture(1)", "--no-progress",
          "--output", str(tmp_path)])
    report = (tmp_path / "report.md").read_text()
    assert "density: wine / broken / seed 0: RuntimeError: boom" in report
    assert "| failed |" in report


def test_unknown_method_is_named(tmp_path):
    with pytest.raises(SystemExit, match="nonsense"):
        main(["bench", "--preset", "quick", "--methods", "nonsense", "--output", str(tmp_path)])
