import pandas as pd
import pytest

from flowimpute.cli import main


def test_quick_bench_writes_its_report(tmp_path, capsys):
    assert main(["bench", "--preset", "quick", "--datasets", "wine", "--no-progress",
                 "--output", str(tmp_path)]) == 0
    runs = pd.read_csv(tmp_path / "density.csv")
    assert set(runs["method"]) == {"CouplingFlowDensity", "GaussianMixture(1)",
                                   "GaussianMixture(10)", "KernelDensity(CV)"}
    assert runs["test_loglik"].notna().all()
    report = (tmp_path / "density.md").read_text()
    assert "| wine |" in report
    assert "| wine |" in capsys.readouterr().out


def test_failures_are_recorded_not_fatal(tmp_path, monkeypatch):
    from flowimpute.bench import density

    def broken(seed):
        raise RuntimeError("boom")

    methods = {"broken": broken, **density.density_methods("quick")}
    monkeypatch.setattr("flowimpute.cli.density_methods", lambda *args: methods)
    main(["bench", "--preset", "quick", "--datasets", "wine", "--methods", "broken",
          "GaussianMixture(1)", "--no-progress", "--output", str(tmp_path)])
    report = (tmp_path / "density.md").read_text()
    assert "wine / broken / seed 0: RuntimeError: boom" in report
    assert "| failed |" in report


def test_unknown_method_is_named(tmp_path):
    with pytest.raises(SystemExit, match="nonsense"):
        main(["bench", "--preset", "quick", "--methods", "nonsense", "--output", str(tmp_path)])
