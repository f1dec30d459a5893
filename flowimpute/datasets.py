"""Real tabular data sets: loaders for the project's data folder and scikit-learn's bundled sets.

The CSV files are looked up in, in order: the ``data_home`` argument, the
``FLOWIMPUTE_DATA`` environment variable, and the nearest ``shared/data``
folder found walking up from the working directory, then from the repository
that holds this package. Nothing is ever downloaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets as sklearn_datasets
from sklearn.utils import Bunch

from .structure.graphs import LinearGaussianNetwork

#: name -> (file name, target column). Target columns are removed from the features.
CSV_DATASETS: dict[str, tuple[str, str]] = {
    "banknote": ("banknote.csv.gz", "class"),
    "california": ("california_housing.csv.gz", "MedHouseVal"),
    "gas_turbine": ("gas_turbine.csv.gz", "year"),
    "letter": ("letter.csv.gz", "lettr"),
    "magic": ("magic.csv.gz", "class"),
    "sonar": ("sonar.csv.gz", "class"),
    "spambase": ("spambase.csv.gz", "spam"),
    "wine_quality_red": ("wine_quality_red.csv.gz", "quality"),
    "wine_quality_white": ("wine_quality_white.csv.gz", "quality"),
    "yeast": ("yeast.csv.gz", "class"),
}

#: Sets bundled with scikit-learn, available with no data folder at all.
BUNDLED_DATASETS = {
    "breast_cancer": sklearn_datasets.load_breast_cancer,
    "diabetes": sklearn_datasets.load_diabetes,
    "wine": sklearn_datasets.load_wine,
}

DATASET_NAMES = sorted([*CSV_DATASETS, *BUNDLED_DATASETS])

#: Real mixed-type tables in the data folder's ``mixed/``, some with real gaps.
MIXED_DATASETS = ["airquality", "ames", "attrition", "credit_data", "diamonds", "helpmiss",
                  "penguins"]

#: Linear Gaussian Bayesian networks in the data folder's ``bayesian_networks/``.
BAYESIAN_NETWORKS = ["arth150", "ecoli70", "magic-irri", "magic-niab"]


def _candidate_data_homes(data_home: str | os.PathLike | None) -> list[Path]:
    if data_home is not None:
        return [Path(data_home)]
    candidates = []
    if os.environ.get("FLOWIMPUTE_DATA"):
        candidates.append(Path(os.environ["FLOWIMPUTE_DATA"]))
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parents[1]):
        candidates += [folder / "shared" / "data" for folder in start.parents]
    return candidates


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The folder holding the CSV data sets.

    Parameters
    ----------
    data_home : str, path or None, default=None
        Used when given; otherwise ``FLOWIMPUTE_DATA``, then the nearest
        ``shared/data`` above the working directory, then above the
        repository.

    Returns
    -------
    path : Path

    Raises
    ------
    FileNotFoundError
        Listing every place that was tried.

    Examples
    --------
    A folder given explicitly (or by ``FLOWIMPUTE_DATA``) wins:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from flowimpute.datasets import get_data_home
    >>> folder = tempfile.mkdtemp()
    >>> get_data_home(folder) == Path(folder)
    True
    """
    candidates = _candidate_data_homes(data_home)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(dict.fromkeys(str(c) for c in candidates))
    raise FileNotFoundError(
        f"No data folder found (tried: {tried}). Set FLOWIMPUTE_DATA to the folder "
        f"holding the CSV files, or use a bundled data set: {sorted(BUNDLED_DATASETS)}."
    )


def load_dataset(name: str, data_home: str | os.PathLike | None = None) -> Bunch:
    """Load a real data set as numeric features and a target.

    Parameters
    ----------
    name : str
        One of :data:`DATASET_NAMES`: ``banknote``, ``breast_cancer``,
        ``california``, ``diabetes``, ``gas_turbine``, ``letter``, ``magic``,
        ``sonar``, ``spambase``, ``wine``, ``wine_quality_red``,
        ``wine_quality_white``, ``yeast``.
    data_home : str or path-like, optional
        Folder with the CSV files; see the module docstring for the default.

    Returns
    -------
    dataset : Bunch
        ``data`` (DataFrame of float64 features), ``target`` (Series) and
        ``name``.

    Examples
    --------
    >>> from flowimpute.datasets import load_dataset
    >>> load_dataset("diabetes").data.shape
    (442, 10)
    """
    if name in BUNDLED_DATASETS:
        bunch = BUNDLED_DATASETS[name](as_frame=True)
        return Bunch(data=bunch.data.astype(np.float64), target=bunch.target, name=name)
    if name not in CSV_DATASETS:
        raise ValueError(f"Unknown data set {name!r}; choose one of {DATASET_NAMES}.")
    file_name, target_column = CSV_DATASETS[name]
    path = get_data_home(data_home) / file_name
    if not path.is_file():
        raise FileNotFoundError(f"Data set {name!r} expects the file {path}.")
    frame = pd.read_csv(path)
    target = frame.pop(target_column)
    return Bunch(data=frame.astype(np.float64), target=target, name=name)


def load_mixed(name: str, data_home: str | os.PathLike | None = None) -> pd.DataFrame:
    """Load a real mixed-type table as pandas reads it: text columns as
    strings, integer columns as integers, numbers as floats, empty cells
    missing (a column of integers with gaps reads as floats).

    Parameters
    ----------
    name : str
        One of :data:`MIXED_DATASETS`: ``airquality``, ``ames``,
        ``attrition``, ``credit_data``, ``diamonds``, ``helpmiss``,
        ``penguins``.
    data_home : str or path-like, optional
        Folder holding ``mixed/``; see the module docstring for the default.

    Returns
    -------
    table : DataFrame
    """
    if name not in MIXED_DATASETS:
        raise ValueError(f"Unknown mixed table {name!r}; choose one of {MIXED_DATASETS}.")
    path = get_data_home(data_home) / "mixed" / f"{name}.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"Mixed table {name!r} expects the file {path}.")
    return pd.read_csv(path)


def load_bayesian_network(name: str, data_home: str | os.PathLike | None = None
                          ) -> LinearGaussianNetwork:
    """Load a linear Gaussian Bayesian network: its graph and parameters.

    Sampling it gives data whose true structure and density are known
    (:class:`~flowimpute.structure.graphs.LinearGaussianNetwork`).

    Parameters
    ----------
    name : str
        One of :data:`BAYESIAN_NETWORKS`: ``arth150``, ``ecoli70``,
        ``magic-irri``, ``magic-niab``.
    data_home : str or path-like, optional
        Folder holding ``bayesian_networks/``; see the module docstring.

    Returns
    -------
    network : LinearGaussianNetwork
    """
    if name not in BAYESIAN_NETWORKS:
        raise ValueError(f"Unknown network {name!r}; choose one of {BAYESIAN_NETWORKS}.")
    path = get_data_home(data_home) / "bayesian_networks" / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"Network {name!r} expects the file {path}.")
    spec = json.loads(path.read_text())
    nodes = list(spec["nodes"])
    index = {node: i for i, node in enumerate(nodes)}
    n_nodes = len(nodes)
    adjacency = np.zeros((n_nodes, n_nodes), dtype=bool)
    weights = np.zeros((n_nodes, n_nodes))
    intercepts, variances = np.zeros(n_nodes), np.zeros(n_nodes)
    for node, cpd in spec["cpds"].items():
        child = index[node]
        intercepts[child] = cpd["coefficients"]["(Intercept)"][0]
        variances[child] = cpd["variance"][0]
        for parent in cpd["parents"]:
            adjacency[index[parent], child] = True
            weights[index[parent], child] = cpd["coefficients"][parent][0]
    return LinearGaussianNetwork(nodes, adjacency, weights, intercepts, variances)


def make_ring_of_gaussians(
    n_samples: int, n_modes: int = 6, radius: float = 2.0, std: float = 0.25, random_state=None
) -> np.ndarray:
    """A 2-D mixture of isotropic Gaussians evenly spaced on a circle.

    Parameters
    ----------
    n_samples : int
    n_modes : int, default=6
        Number of equally likely components.
    radius : float, default=2.0
        Radius of the circle holding the component means.
    std : float, default=0.25
        Standard deviation of each component.
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, 2)

    Examples
    --------
    >>> from flowimpute.datasets import make_ring_of_gaussians
    >>> make_ring_of_gaussians(500, random_state=0).shape
    (500, 2)
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    angles = 2 * np.pi * rng.randint(n_modes, size=n_samples) / n_modes
    centers = radius * np.column_stack([np.cos(angles), np.sin(angles)])
    return centers + std * rng.normal(size=(n_samples, 2))


def ring_of_gaussians_log_density(
    X: np.ndarray, n_modes: int = 6, radius: float = 2.0, std: float = 0.25
) -> np.ndarray:
    """The exact log-density of :func:`make_ring_of_gaussians` at the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
    n_modes, radius, std
        As given to :func:`make_ring_of_gaussians`.

    Returns
    -------
    log_density : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from flowimpute.datasets import make_ring_of_gaussians, ring_of_gaussians_log_density
    >>> X = make_ring_of_gaussians(20000, random_state=0)
    >>> round(float(ring_of_gaussians_log_density(X).mean()), 1)  # minus the entropy
    -1.9
    """
    from scipy.special import logsumexp

    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    centers = radius * np.column_stack([np.cos(angles), np.sin(angles)])
    squared = ((X[:, None, :] - centers[None]) ** 2).sum(-1)
    log_components = -squared / (2 * std**2) - np.log(2 * np.pi * std**2)
    return logsumexp(log_components, axis=1) - np.log(n_modes)


def make_grid_of_gaussians(
    n_samples: int, n_per_side: int = 5, spacing: float = 1.0, std: float = 0.1,
    random_state=None,
) -> np.ndarray:
    """A 2-D mixture of ``n_per_side**2`` equally likely isotropic Gaussians on
    a square grid centred at the origin (the NAF paper's "grid of Gaussians").

    Parameters
    ----------
    n_samples : int
    n_per_side : int, default=5
        Components per row and column of the grid.
    spacing : float, default=1.0
        Distance between neighbouring means.
    std : float, default=0.1
        Standard deviation of each component.
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, 2)

    Examples
    --------
    >>> from flowimpute.datasets import make_grid_of_gaussians
    >>> X = make_grid_of_gaussians(1000, random_state=0)
    >>> X.shape, bool(abs(X).max() < 3)
    ((1000, 2), True)
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    offsets = (np.arange(n_per_side) - (n_per_side - 1) / 2) * spacing
    centers = offsets[rng.randint(n_per_side, size=(n_samples, 2))]
    return centers + std * rng.normal(size=(n_samples, 2))


def make_vfg_synthetic(n_samples: int, random_state=None) -> np.ndarray:
    """The synthetic set of the VFG paper (section 5.1): 8 columns from 2 latents.

    ``z1 ~ N(0, 1)``, ``z2 ~ N(1, 2^2)``; ``x1 = x2 = z1``,
    ``x3 = x4 = 2 sin(z1)``, ``x5 = x6 = z2``, ``x7 = x8 = z2^2``.

    Parameters
    ----------
    n_samples : int
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, 8)

    Examples
    --------
    >>> from flowimpute.datasets import make_vfg_synthetic
    >>> X = make_vfg_synthetic(5, random_state=0)
    >>> bool((X[:, 0] == X[:, 1]).all() and (X[:, 6] == X[:, 4] ** 2).all())
    True
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    z1 = rng.normal(0.0, 1.0, n_samples)
    z2 = rng.normal(1.0, 2.0, n_samples)
    return np.column_stack([z1, z1, 2 * np.sin(z1), 2 * np.sin(z1), z2, z2, z2**2, z2**2])


#: The graph of :func:`make_section_dag`: a chain of three roots, each
#: shared by two neighbouring sections.
SECTION_DAG = {"a": [0, 1], "b": [1, 2], "c": [2, 3]}


def make_section_dag(n_samples: int, noise: float = 0.05, random_state=None) -> np.ndarray:
    """Four sections of two columns from a DAG: sections 1 and 2 have two parents.

    Three roots ``z_a, z_b, z_c ~ N(0, I_2)``. With the monotone warp
    ``w(u) = u + 0.4 sin(2u)`` applied entry by entry and ``R_t`` the
    rotation by ``t`` times 40 degrees, the sections are ``s0 = w(R_0
    z_a)``, ``s1 = (w(R_1 z_a) + w(R_2 z_b)) / 2``, ``s2 = (w(R_3 z_b) +
    w(R_4 z_c)) / 2`` and ``s3 = w(R_5 z_c)``, each plus Gaussian noise of
    standard deviation ``noise``: a section with two parents is the average
    of an invertible map of each, as a VFG node with two parents decodes
    it. The columns hold six latent dimensions, more than a tree whose
    root is two wide can carry; the VFG of :data:`SECTION_DAG` matches the
    generating graph.

    Parameters
    ----------
    n_samples : int
    noise : float, default=0.05
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, 8)
        Columns ``[s0, s0, s1, s1, s2, s2, s3, s3]``, two per section.

    Examples
    --------
    >>> from flowimpute.datasets import make_section_dag
    >>> make_section_dag(5, random_state=0).shape
    (5, 8)
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    z_a, z_b, z_c = rng.normal(size=(3, n_samples, 2))

    def warped(z: np.ndarray, turns: int) -> np.ndarray:
        angle = turns * np.pi * 2 / 9
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        u = z @ rotation.T
        return u + 0.4 * np.sin(2 * u)

    sections = [warped(z_a, 0), (warped(z_a, 1) + warped(z_b, 2)) / 2,
                (warped(z_b, 3) + warped(z_c, 4)) / 2, warped(z_c, 5)]
    return np.hstack(sections) + noise * rng.normal(size=(n_samples, 8))
