"""SIReN-VAE's Table 1 benchmark on a tiny run: models, protocols, the table."""

import numpy as np
import pytest

from flowimpute import SIReNVAE, VAEImputer
from flowimpute.bench import siren
from flowimpute.datasets import load_bayesian_network


def test_models_are_the_vae_and_the_three_structures():
    network = load_bayesian_network("magic-niab")
    vae = siren.make_model("VAE", network, 0, 2, "fixed")
    assert isinstance(vae, VAEImputer) and vae.latent_dim == 39
    assert vae.validation_fraction == 0.0 and vae.n_iter_no_change is None
    for model, structure in siren.STRUCTURES.items():
        estimator = siren.make_model(model, network, 3, 100, "early-stopping")
        assert isinstance(estimator, SIReNVAE) and estimator.structure == structure
        assert len(estimator.edges) == 66 and len(estimator.latent_variables) == 39
        assert estimator.max_epochs == 10 and estimator.random_state == 3
    assert siren.epochs_for(2, "fixed") > siren.epochs_for(2, "early-stopping")


def test_table1_run_scores_every_model_beside_the_truth(monkeypatch):
    monkeypatch.setattr(siren, "epochs_for", lambda multiplier, protocol: 2)
    runs = siren.run_table1(["magic-niab"], [2], [0], models=["VAE", "SIReN-VAE true"],
                            n_test=200, progress=False)
    assert len(runs) == 4 and set(runs["protocol"]) == set(siren.PROTOCOLS)
    assert (runs[["D", "K", "E", "n_train"]].iloc[0] == [5, 39, 66, 88]).all()
    assert np.isfinite(runs[["nll", "re", "true_nll"]].to_numpy()).all()
    # In the data's units: near the network's own NLL (the leaves are weakly
    # correlated, so even a barely trained model is), not shifted by the scaling.
    assert (abs(runs["nll"] - runs["true_nll"]) < 2.0).all()
    table = siren.table1(runs)
    assert list(table.columns) == ["VAE NLL", "SIReN-VAE true NLL", "VAE RE",
                                   "SIReN-VAE true RE", "truth NLL", "best NLL"]
    best = runs[runs["protocol"] == "fixed"].sort_values("nll")["model"].iloc[0]
    assert table.loc[("magic-niab", 2, "fixed"), "best NLL"] == best
    assert "Seconds per fit" in siren.summary(runs)


def test_large_sizes_run_the_early_stopping_protocol_only(monkeypatch):
    calls = []
    monkeypatch.setattr(siren, "make_model", lambda *args: calls.append(args) or
                        pytest.fail("no model should be fitted"))
    monkeypatch.setattr(siren, "tqdm", lambda runs, **_: calls.append(list(runs)) or [])
    siren.run_table1(["magic-niab"], [100], [0, 1], progress=False)
    assert {run[2] for run in calls[0]} == {"early-stopping"} and len(calls[0]) == 8
