"""SIReN-VAE's Table 1: what a known Bayesian network buys a VAE, by training-set size.

Run with ``python -m flowimpute.bench.siren``. For each linear Gaussian
network (ecoli70, arth150, magic-irri), the leaves are the observed columns
and the other nodes latent; training sets of 2x and 100x as many rows as the
network has nodes are sampled per seed, with 2,000 test rows. Four models,
each with as many latent variables as the network:

- "VAE": :class:`~flowimpute.VAEImputer` (Gaussian posterior, N(0, I)
  prior, dense decoder);
- "SIReN-VAE ind", "SIReN-VAE FC", "SIReN-VAE true":
  :class:`~flowimpute.SIReNVAE` with independent latents, the complete DAG
  over them, and the network itself.

Reported on the test rows: NLL, the negative importance-weighted bound with
500 draws (nats per row, in the data's units), and RE, the negative
reconstruction term ``-E_q[log p(x | z)]``; beside them the network's own
NLL of the leaves (its exact Gaussian marginal). Every model trains with
Adam at step size 1e-2, 5 importance draws, batch "auto", float32, under
one of two protocols: "early-stopping" (10% of the training rows held out,
patience 20 epochs; at most 200 epochs at 2x) and "fixed" (every training
row, 300 epochs, no hold-out), the latter closer to the paper's. At 100x
only the first runs, for 10 epochs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import multivariate_normal
from tqdm.auto import tqdm

from ..datasets import load_bayesian_network
from ..impute import SIReNVAE, VAEImputer
from .report import mean_std, to_markdown

NETWORKS = ("ecoli70", "arth150", "magic-irri")
MODELS = ("VAE", "SIReN-VAE ind", "SIReN-VAE FC", "SIReN-VAE true")
STRUCTURES = {"SIReN-VAE ind": "independent", "SIReN-VAE FC": "complete",
              "SIReN-VAE true": "true"}
PROTOCOLS = ("early-stopping", "fixed")
SHARED = dict(learning_rate=1e-2, n_importance=5, n_draws=500, dtype="float32", device="cpu")
#: Rows per node at or below which a training set counts as small.
SMALL = 10


def epochs_for(multiplier: int, protocol: str) -> int:
    """The epoch budget of a protocol at a training size."""
    if multiplier > SMALL:
        return 10
    return 200 if protocol == "early-stopping" else 300


def latent_and_observed(network) -> tuple[list[str], list[str]]:
    """The network's latent nodes (every node with a child) and its leaves."""
    has_child = network.adjacency.any(axis=1)
    return ([node for node, latent in zip(network.nodes, has_child, strict=True) if latent],
            [node for node, latent in zip(network.nodes, has_child, strict=True) if not latent])


def make_model(model: str, network, seed: int, multiplier: int, protocol: str):
    """One of :data:`MODELS` for a network whose leaves are observed."""
    names, _ = latent_and_observed(network)
    training = dict(SHARED, max_epochs=epochs_for(multiplier, protocol), random_state=seed)
    if protocol == "fixed":
        training.update(validation_fraction=0.0, n_iter_no_change=None)
    if model == "VAE":
        return VAEImputer(latent_dim=len(names), **training)
    edges = [(network.nodes[i], network.nodes[j]) for i, j in np.argwhere(network.adjacency)]
    return SIReNVAE(edges=edges, latent_variables=names, structure=STRUCTURES[model],
                    **training)


def true_nll(network, X_test: pd.DataFrame) -> float:
    """The network's own mean negative log-likelihood of the test leaves."""
    mean, covariance = network.moments()
    leaves = np.isin(network.nodes, list(X_test.columns))
    marginal = multivariate_normal(mean[leaves], covariance[np.ix_(leaves, leaves)])
    return float(-marginal.logpdf(X_test.to_numpy()).mean())


def run_table1(networks: Sequence[str], multipliers: Sequence[int], seeds: Sequence[int],
               protocols: Sequence[str] = PROTOCOLS, models: Sequence[str] = MODELS,
               n_test: int = 2000, progress: bool = True) -> pd.DataFrame:
    """One row per (network, size, protocol, model, seed): test NLL and RE,
    the network's NLL, epochs and fit time. The "fixed" protocol runs only
    at small sizes, where the two protocols differ."""
    runs = [(n, m, p, s, model) for n in networks for m in multipliers for p in protocols
            for s in seeds for model in models if p == "early-stopping" or m <= SMALL]
    records = []
    for name, multiplier, protocol, seed, model in tqdm(runs, desc="Table 1",
                                                        disable=not progress):
        network = load_bayesian_network(name)
        _, columns = latent_and_observed(network)
        n_nodes = len(network.nodes)
        X_train = network.sample(multiplier * n_nodes, random_state=seed)[columns]
        X_test = network.sample(n_test, random_state=10_000 + seed)[columns]
        start = time.perf_counter()
        estimator = make_model(model, network, seed, multiplier, protocol).fit(X_train)
        records.append({
            "network": name, "D": len(columns), "K": n_nodes - len(columns),
            "E": int(network.adjacency.sum()), "multiplier": multiplier,
            "n_train": len(X_train), "protocol": protocol, "model": model, "seed": seed,
            "nll": -estimator.score(X_test),
            "re": float(-estimator.reconstruction_log_likelihood(X_test).mean()),
            "true_nll": true_nll(network, X_test),
            "epochs": estimator.n_iter_, "fit_seconds": time.perf_counter() - start,
        })
    return pd.DataFrame.from_records(records)


def table1(runs: pd.DataFrame) -> pd.DataFrame:
    """NLL and RE per network, size, protocol and model (mean ± sd over
    seeds), the network's NLL, and the model with the lowest mean NLL."""
    keys = ["network", "multiplier", "protocol"]
    order = [model for model in MODELS if model in set(runs["model"])]
    columns = {}
    for metric in ("nll", "re"):
        table = mean_std(runs, [*keys, "model"], metric, digits=2).unstack("model")
        for model in order:
            columns[f"{model} {metric.upper()}"] = table[model]
    result = pd.DataFrame(columns)
    result["truth NLL"] = mean_std(runs.drop_duplicates([*keys, "seed"]), keys, "true_nll",
                                   digits=2)
    means = runs.groupby([*keys, "model"])["nll"].mean().unstack("model")
    result["best NLL"] = means.idxmin(axis=1)
    seconds = runs.groupby(["network", "multiplier", "model"])["fit_seconds"].mean()
    result.attrs["seconds"] = seconds.unstack("model")[order].round(1)
    return result


def summary(runs: pd.DataFrame) -> str:
    table = table1(runs)
    seeds = sorted(int(seed) for seed in runs["seed"].unique())
    return (f"\nSIReN-VAE Table 1: test NLL and RE (nats per row), seeds {seeds}\n\n"
            f"{to_markdown(table)}\n\nSeconds per fit\n\n{to_markdown(table.attrs['seconds'])}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS))
    parser.add_argument("--multipliers", type=int, nargs="+", default=[2, 100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="CSV",
                        help="print the table of saved runs (several files are joined)")
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    args = parser.parse_args(argv)
    if args.summarize:
        print(summary(pd.concat([pd.read_csv(path) for path in args.summarize],
                                ignore_index=True)))
        return
    args.output.mkdir(parents=True, exist_ok=True)
    frames = []
    for network in args.networks:          # saved after each part: long runs keep results
        for multiplier in args.multipliers:
            frames.append(run_table1([network], [multiplier], args.seeds, args.protocols,
                                     args.models))
            pd.concat(frames).to_csv(args.output / "siren-table1.csv", index=False)
    print(summary(pd.concat(frames, ignore_index=True)))


if __name__ == "__main__":
    main()
