"""Every estimator's outputs on fixed inputs and seeds, against a recording.

The recording (``tests/data/reference_outputs.npz``) was made before the
package was restructured (issue 38), so this test proves that a change of
structure left behaviour alone: scores, samples, imputations, multiple
imputations and the choices made at fit agree to 1e-10.

Record anew only when behaviour is meant to change, and say so in the commit:
``python tests/test_reference_outputs.py --record``.

Training is short, but float64 round-off still depends on the CPU's BLAS
kernels, the torch build and the numerical libraries (a new SciPy moves the
Yeo-Johnson exponents in the eighth digit); the recording holds the versions
and machine it was made with, and the test is skipped where any differs.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy
import sklearn
import torch

from flowimpute import (
    ACFlowImputer,
    CouplingFlowDensity,
    FlowImputer,
    MaskSearch,
    NAFDensity,
    VFGImputer,
)

RECORDING = Path(__file__).parent / "data" / "reference_outputs.npz"
TOLERANCE = 1e-10


def _data() -> tuple[np.ndarray, np.ndarray]:
    """A complete table with a discrete column, and a copy with gaps."""
    rng = np.random.RandomState(0)
    z = rng.normal(size=(160, 2))
    X = np.column_stack([z[:, 0], z[:, 0] + 0.3 * z[:, 1], z[:, 1] ** 2,
                         np.round(2 * z[:, 1]), z[:, 0] - z[:, 1]])
    X_gaps = X.copy()
    X_gaps[rng.uniform(size=X.shape) < 0.2] = np.nan
    X_gaps[0] = np.nan
    X_gaps[0, 0] = 1.0
    return X, X_gaps


def _densities() -> dict:
    short = {"max_epochs": 4, "random_state": 0, "hidden_dims": (8,)}
    return {
        "coupling_parity": CouplingFlowDensity(n_layers=3, **short),
        "coupling_random_mixture": CouplingFlowDensity(
            n_layers=2, mask="random", base_distribution="mixture", n_components=3,
            dequantization="auto", **short),
        "coupling_laplace_noise": CouplingFlowDensity(
            n_layers=2, base_distribution="laplace", noise_std=0.1, **short),
        "coupling_searched": CouplingFlowDensity(
            n_layers=2, mask=MaskSearch(search_iter=3, search_steps=5), **short),
        "naf_dsf": NAFDensity(n_flows=2, **short),
        "naf_ddsf": NAFDensity(n_flows=1, transformer="ddsf", n_transformer_units=4, **short),
        "naf_affine": NAFDensity(n_flows=2, transformer="affine", **short),
        "naf_spline": NAFDensity(n_flows=2, transformer="spline", n_transformer_units=5,
                                 **short),
    }


def _imputers() -> dict:
    coupling = CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=3)
    naf = NAFDensity(n_flows=1, hidden_dims=(8,), max_epochs=3)
    small = {"max_em_iter": 2, "em_epochs": 2, "n_mcmc_steps": 10, "random_state": 0}
    return {
        "flow_coupling": FlowImputer(coupling, **small),
        "flow_naf_auto_mean": FlowImputer([naf, coupling], point_estimate="auto",
                                          n_mean_chains=2, **small),
        "flow_yeo_johnson_mean": FlowImputer(coupling, marginal="yeo-johnson",
                                             point_estimate="mean", n_mean_chains=2,
                                             initial_strategy="mean", **small),
        "flow_self_masking": FlowImputer(naf, missing_mechanism="self-masking", **small),
        "flow_neighbours": FlowImputer(coupling, point_estimate="mean",
                                       mean_chain_start="neighbours", n_mean_chains=2,
                                       n_gradient_steps=5, **small),
        "flow_posterior": FlowImputer(coupling, sample_posterior=True, gap_noise=0.0,
                                      **small),
        "vfg": VFGImputer(sections=[[0, 1], [2, 3], [4]], max_epochs=4, n_init=2,
                          section_model="paper", random_state=0),
        "vfg_mean_ancestor": VFGImputer(sections=[[0, 1], [2, 3, 4]], graph=[[0], [1]],
                                        aggregation="mean", decode_from="ancestor",
                                        column_weights="variance", n_gap_steps=5,
                                        latent_distribution="laplace", max_epochs=4,
                                        section_model="paper", random_state=0),
        "vfg_conditional": VFGImputer(sections=[[0, 1], [2, 3], [4]], max_epochs=4,
                                      random_state=0),
        "vfg_concatenate": VFGImputer(n_components=3, missing_mechanism="self-masking",
                                      random_state=0),
        "acflow": ACFlowImputer(n_layers=2, hidden_dims=(8,), n_components=2, max_epochs=4,
                                random_state=0),
    }


def compute_outputs() -> dict[str, np.ndarray]:
    """Run every estimator of the recording; return its named outputs."""
    X, X_gaps = _data()
    outputs: dict[str, np.ndarray] = {}
    for name, density in _densities().items():
        density.set_params(device="cpu").fit(X)
        outputs[f"{name}/score_samples"] = density.score_samples(X[:40])
        outputs[f"{name}/sample"] = density.sample(7, random_state=1)
        outputs[f"{name}/train_loss"] = np.array(density.history_["train_loss"])
        if hasattr(density, "masks_"):
            outputs[f"{name}/masks"] = np.asarray(density.masks_, dtype=np.float64)
        density.partial_fit(X[:80])
        outputs[f"{name}/partial_fit_score"] = density.score_samples(X[:10])
    for name, imputer in _imputers().items():
        outputs[f"{name}/transform"] = imputer.set_params(device="cpu").fit_transform(X_gaps)
        outputs[f"{name}/draws"] = imputer.sample_imputations(X_gaps[:30], n_imputations=2,
                                                              random_state=2)
        for attribute in ("gradient_steps_", "mean_weight_", "gap_steps_", "init_errors_",
                          "gap_noise_std_", "missingness_coef_", "em_history_"):
            value = getattr(imputer, attribute, None)
            if value is not None:
                outputs[f"{name}/{attribute}"] = np.asarray(value, dtype=np.float64)
        if isinstance(imputer, (VFGImputer, ACFlowImputer)):
            outputs[f"{name}/score_samples"] = imputer.score_samples(X_gaps)
    return outputs


def _environment() -> dict[str, str]:
    return {"torch": torch.__version__, "machine": platform.machine(),
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__}


def test_outputs_equal_the_recording():
    if not RECORDING.exists():
        pytest.skip(f"no recording at {RECORDING}")
    recording = np.load(RECORDING)
    recorded_environment = {key[len("env/"):]: str(recording[key])
                            for key in recording.files if key.startswith("env/")}
    if recorded_environment != _environment():
        pytest.skip(f"recorded with {recorded_environment}, running {_environment()}")
    outputs = compute_outputs()
    expected = {key: recording[key] for key in recording.files if not key.startswith("env/")}
    assert sorted(outputs) == sorted(expected)
    for key, value in outputs.items():
        np.testing.assert_allclose(value, expected[key], rtol=TOLERANCE, atol=TOLERANCE,
                                   err_msg=key)


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/test_reference_outputs.py --record")
    results = compute_outputs()
    RECORDING.parent.mkdir(exist_ok=True)
    np.savez(RECORDING, **results,
             **{f"env/{key}": np.array(value) for key, value in _environment().items()})
    print(f"recorded {len(results)} outputs to {RECORDING}")
