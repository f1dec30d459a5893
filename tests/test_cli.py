import numpy as np
import pandas as pd
import pytest

from flowimpute.bench.vfg_paper import VFG_VARIANTS, trimmed_mse, vfg_variants
from flowimpute.cli import PRESETS, main


def test_quick_bench_writes_its_report(tmp_path, capsys):
    """The CI smoke run of the README's main command, end to end."""
    assert main(["bench", "--preset", "quick", "--no-progress", "--output", str(tmp_path)]) == 0
    paper = pd.read_csv(tmp_path / "paper.csv")
    assert {"VFG (weighted)", "VFG (paper: mean)", "KNN(k=3) (fair)"} <= set(paper["method"])
    assert paper["mse"].notna().all()
    density = pd.read_csv(tmp_path / "density.csv")
    assert set(density["method"]) == {
        "Coupling(parity)", "Coupling(random)", "Coupling(searched)", "NAFDensity",
        "NAFDensity(spline)",
        "GaussianMixture(1)", "GaussianMixture(10)", "KernelDensity(CV)"}
    assert density["test_loglik"].notna().all()
    runs = pd.read_csv(tmp_path / "imputation.csv")
    assert {"FlowImputer(NAF)", "VFGImputer", "median", "KNN(k=3)", "MICE(5)", "GAIN",
            "MissForest(ExtraTrees)"} <= set(runs["method"])
    assert set(runs["mechanism"]) == {"MCAR", "MNAR"}
    self_masking = runs["method"] == "FlowImputer(NAF, self-masking)"
    assert set(runs.loc[self_masking, "mechanism"]) == {"MNAR"}   # it assumes MNAR
    assert runs["rmse"].notna().all() and (runs["rmse"] > 0).all()
    assert runs["error"].isna().all()
    # Only diabetes has a regression target; R^2 is measured on its split only.
    has_r2 = runs["downstream_r2"].notna()
    assert has_r2.any() and set(runs.loc[has_r2, "dataset"]) == {"diabetes"}
    assert (runs["peak_memory_mib"] >= 0).all()
    report = (tmp_path / "report.md").read_text()
    for heading in ("## The VFG paper's synthetic protocol", "## Density estimation",
                    "Held-out bits per dimension",
                    "## Imputation", "Downstream: R^2", "## Mixed tables"):
        assert heading in report
    mixed = pd.read_csv(tmp_path / "mixed_runs.csv")
    assert {"MissForest(RF)", "ACFlowImputer"} <= set(mixed["method"])
    assert set(mixed["table"]) == {"penguins"} and mixed["categorical_accuracy"].between(0, 1).all()
    assert "| penguins | 0.2 |" in report
    assert "| wine |" in report and "| diabetes | MCAR |" in report
    assert "## Imputation" in capsys.readouterr().out
    for figure in ("density.png", "imputation.png"):
        assert (tmp_path / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_presets_name_only_known_vfg_variants():
    """An unknown name fails the paper part, deep into a long run."""
    for name, preset in PRESETS.items():
        variants = preset.get("paper", {}).get("variants") or []
        assert set(variants) <= set(VFG_VARIANTS), name
    with pytest.raises(ValueError, match="Unknown VFG variants"):
        vfg_variants([[0, 1]], [0], 0, ["VFG (weighted, n_init=30)"])


def test_trimmed_mse_drops_the_rows_with_the_largest_error():
    truth = np.zeros((200, 3))
    imputed = np.ones((200, 3))
    imputed[7, 0] = 101.0  # one row far off; its observed entry (column 2) does not count
    imputed[:, 2] = 50.0
    hidden = np.zeros((200, 3), dtype=bool)
    hidden[:, :2] = True
    assert trimmed_mse(imputed, truth, hidden) == 1.0
    assert trimmed_mse(imputed, truth, hidden, worst=0.0) == (2 * 199 + 101**2 + 1) / 400


def test_failures_are_recorded_not_fatal(tmp_path, monkeypatch):
    from flowimpute.bench import density

    def broken(seed):
        raise RuntimeError("boom")

    methods = {"broken": broken, **density.density_methods(max_epochs=5)}
    monkeypatch.setattr("flowimpute.cli.density_methods", lambda *args: methods)
    main(["bench", "--preset", "quick", "--tasks", "density", "--datasets", "wine",
          "--methods", "broken", "GaussianMixture(1)", "--no-progress",
          "--output", str(tmp_path)])
    report = (tmp_path / "report.md").read_text()
    assert "density: wine / broken / seed 0: RuntimeError: boom" in report
    assert "| failed |" in report


def test_an_mnar_method_named_explicitly_runs_under_mcar():
    from flowimpute.bench.imputation import run

    runs = run([("wine", "MCAR", 0.2)], [0], max_rows=100, epochs=1,
               methods=["FlowImputer(NAF, self-masking)", "mean"], progress=False)
    assert set(runs["method"]) == {"FlowImputer(NAF, self-masking)", "mean"}
    assert runs["rmse"].notna().all()


def test_unknown_method_is_named(tmp_path):
    with pytest.raises(SystemExit, match="nonsense"):
        main(["bench", "--preset", "quick", "--methods", "nonsense", "--output", str(tmp_path)])


def test_datasets_option_runs_every_mechanism_of_the_preset_on_them(tmp_path):
    main(["bench", "--preset", "quick", "--tasks", "imputation", "--datasets", "wine",
          "--methods", "mean", "IterativeImputer", "--no-progress", "--output", str(tmp_path)])
    runs = pd.read_csv(tmp_path / "imputation.csv")
    assert set(runs["dataset"]) == {"wine"}
    assert set(runs["mechanism"]) == {"MCAR", "MNAR"}
    assert set(runs["method"]) == {"mean", "IterativeImputer"}


def test_suite_preset_runs_only_its_imputation_part(tmp_path, monkeypatch):
    """``--preset suite`` without ``--tasks`` runs the imputation suite alone,
    on the issues' settings; asking it for a part it lacks is a clear error."""
    from flowimpute import cli

    calls = []
    monkeypatch.setattr(cli, "_imputation_part",
                        lambda args, preset: (calls.append(preset) or ["ran"], []))
    main(["bench", "--preset", "suite", "--no-progress", "--output", str(tmp_path)])
    assert len(calls) == 1
    settings = set(calls[0]["settings"])
    for table in ("california", "gas_turbine", "wine_quality_white", "letter"):
        assert {(table, "MCAR", 0.2), (table, "MCAR", 0.5)} <= settings
    assert {("california", "MAR", 0.2), ("wine_quality_white", "MNAR", None)} <= settings
    assert len(set(calls[0]["seeds"])) >= 5
    with pytest.raises(SystemExit, match="Preset 'suite' has no density part"):
        main(["bench", "--preset", "suite", "--tasks", "density", "--output", str(tmp_path)])


def test_verdict_counts_the_masks_each_side_wins():
    """The medians of two methods may come from different masks; "masks won"
    pairs them mask by mask. Here the flow has the higher median (1.0 vs 0.9)
    yet the lower RMSE on two of the three masks."""
    from flowimpute.bench.imputation import verdict

    rmse = {"FlowImputer(NAF)": [0.5, 1.0, 1.3], "MICE(5)": [0.6, 0.9, 1.4]}
    runs = pd.DataFrame([
        {"dataset": "wine", "mechanism": "MCAR", "rate": 0.2, "seed": seed, "method": method,
         "rmse": values[seed]}
        for method, values in rmse.items() for seed in range(3)])
    row = verdict(runs).iloc[0]
    assert row["best"] == "MICE(5)" and row["ratio"] == pytest.approx(1.0 / 0.9, abs=1e-3)
    assert row["masks won"] == "2/3"


# ---------------------------------------------------------------- impute command
@pytest.fixture(scope="module")
def credit(tmp_path_factory):
    """200 rows of a real mixed table with real gaps, as CSV and Parquet files."""
    from flowimpute.datasets import get_data_home

    table = pd.read_csv(get_data_home() / "mixed" / "credit_data.csv.gz",
                        dtype_backend="numpy_nullable")
    gapped = table[table.isna().any(axis=1)]
    sample = pd.concat([gapped.head(60), table.dropna().head(140)]).reset_index(drop=True)
    folder = tmp_path_factory.mktemp("credit")
    sample.to_csv(folder / "credit.csv", index=False)
    sample.to_parquet(folder / "credit.parquet", index=False)
    return sample, folder


def _assert_completes(result: pd.DataFrame, table: pd.DataFrame) -> None:
    assert list(result.columns) == list(table.columns)
    assert (result.dtypes == table.dtypes).all()
    assert not result.isna().any().any()
    observed = table.notna()
    for column in table.columns:
        pd.testing.assert_series_equal(result[column][observed[column]],
                                       table[column][observed[column]])
        if table[column].dtype == "string":
            assert set(result[column]) <= set(table[column].dropna())


def test_impute_fills_a_csv_keeping_columns_dtypes_and_observed_cells(credit, tmp_path,
                                                                      capsys):
    table, folder = credit
    output = tmp_path / "completed.csv"
    assert main(["impute", str(folder / "credit.csv"), "-o", str(output),
                 "--max-epochs", "2"]) == 0
    _assert_completes(pd.read_csv(output, dtype_backend="numpy_nullable"), table)
    message = capsys.readouterr().err
    assert f"filled {int(table.isna().sum().sum())} cells" in message
    assert "Income: " in message and "ACFlowImputer" in message


def test_impute_parquet_to_parquet(credit, tmp_path):
    table, folder = credit
    output = tmp_path / "completed.parquet"
    assert main(["impute", str(folder / "credit.parquet"), "-o", str(output),
                 "--method", "vae", "--max-epochs", "2", "--seed", "3"]) == 0
    _assert_completes(pd.read_parquet(output, dtype_backend="numpy_nullable"), table)


def test_impute_multiple_as_files_or_one_long_table(credit, tmp_path):
    table, folder = credit
    output = tmp_path / "draws.csv"
    assert main(["impute", str(folder / "credit.csv"), "-o", str(output), "--max-epochs", "2",
                 "--multiple", "5"]) == 0
    draws = [pd.read_csv(tmp_path / f"draws-{k}.csv", dtype_backend="numpy_nullable")
             for k in range(1, 6)]
    for draw in draws:
        _assert_completes(draw, table)
    income = np.stack([draw["Income"].to_numpy(dtype=float) for draw in draws])
    assert (income[:, table["Income"].isna().to_numpy()].std(axis=0) > 0).any()
    long_output = tmp_path / "long.csv"
    assert main(["impute", str(folder / "credit.csv"), "-o", str(long_output),
                 "--max-epochs", "2", "--multiple", "3", "--long"]) == 0
    stacked = pd.read_csv(long_output, dtype_backend="numpy_nullable")
    assert list(stacked.columns) == ["imputation", *table.columns]
    assert stacked["imputation"].tolist() == [1] * 200 + [2] * 200 + [3] * 200


def test_impute_reads_standard_input_and_writes_standard_output(credit, monkeypatch, capsys):
    import io

    table, folder = credit
    monkeypatch.setattr("sys.stdin", io.StringIO((folder / "credit.csv").read_text()))
    assert main(["impute", "-", "-o", "-", "--max-epochs", "2"]) == 0
    out = capsys.readouterr().out
    _assert_completes(pd.read_csv(io.StringIO(out), dtype_backend="numpy_nullable"), table)


@pytest.mark.parametrize("content, arguments, message", [
    (None, [], "no such file"),
    (b"a,b\n1,2\n", ["--suffix", ".xlsx"], "unsupported file type .xlsx"),
    (b"", [], "cannot read it as CSV"),
    (b"a,b\n\xff\xfe,1\n", [], "cannot read it as CSV"),
    (b"a,b\n,\n,\n,\n", [], "entirely missing"),
    (b"a,b\n1,2\n3,\n", ["--long"], "--long goes with --multiple"),
    (b"a,b\n1,2\n3,\n", ["--method", "flow", "--max-epochs", "2"], "applies to acflow"),
    (b"a,b\n1,2\n3,\n", ["--multiple", "2", "--stdout"], "add --long"),
])
def test_impute_refuses_bad_input_with_exit_code_2(tmp_path, capsys, content, arguments,
                                                   message):
    suffix = ".csv"
    if "--suffix" in arguments:
        suffix = arguments[arguments.index("--suffix") + 1]
        arguments = []
    source = tmp_path / f"input{suffix}"
    if content is not None:
        source.write_bytes(content)
    output = "-" if "--stdout" in arguments else str(tmp_path / "out.csv")
    arguments = [a for a in arguments if a != "--stdout"]
    assert main(["impute", str(source), "-o", output, *arguments]) == 2
    assert message in capsys.readouterr().err


def test_version_and_commands_are_listed(capsys):
    from flowimpute import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "impute" in capsys.readouterr().out
