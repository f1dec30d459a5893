import numpy as np
import pytest

from flowimpute.datasets import CSV_DATASETS, get_data_home, load_dataset

EXPECTED_SHAPES = {
    "banknote": (1372, 4), "california": (20640, 8), "gas_turbine": (36733, 11),
    "letter": (20000, 16), "magic": (19020, 10), "sonar": (208, 60),
    "spambase": (4601, 57), "wine_quality_red": (1599, 11),
    "wine_quality_white": (4898, 11), "yeast": (1484, 8),
}


@pytest.mark.parametrize("name", sorted(CSV_DATASETS))
def test_csv_datasets_load_as_numeric_features(name):
    dataset = load_dataset(name)
    assert dataset.data.shape == EXPECTED_SHAPES[name]
    assert (dataset.data.dtypes == np.float64).all()
    assert not dataset.data.isna().any().any()
    assert len(dataset.target) == len(dataset.data)


def test_published_statistics():
    assert load_dataset("california").data["MedInc"].mean() == pytest.approx(3.8707, abs=1e-4)
    assert (load_dataset("magic").target == "g").sum() == 12332


def test_bundled_dataset_needs_no_folder(tmp_path):
    assert load_dataset("wine", data_home=tmp_path / "missing").data.shape == (178, 13)


def test_missing_folder_and_unknown_name_are_explained(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="FLOWIMPUTE_DATA"):
        get_data_home(tmp_path / "missing")
    with pytest.raises(ValueError, match="Unknown data set 'iris'"):
        load_dataset("iris")


def test_shared_data_folder_above_the_working_directory_is_found(tmp_path, monkeypatch):
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.delenv("FLOWIMPUTE_DATA", raising=False)
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert get_data_home() == tmp_path / "shared" / "data"


def test_environment_variable_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWIMPUTE_DATA", str(tmp_path))
    assert get_data_home() == tmp_path
