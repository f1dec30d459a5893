"""Residual and planar flows: density quality and cost, and what a known graph buys.

Run with ``python -m flowimpute.bench.residual`` (``pip install normflows``
first for its residual-flow column; flowimpute itself never imports it). Two
parts:

- density: held-out mean log-likelihood (standardized units; 90/10 split per
  seed, standardized with training statistics) and seconds per epoch on the
  report's density tables, for ``ResidualFlowDensity`` (exact and estimated
  training log-determinant), normflows' residual flow of the same size,
  ``PlanarFlowDensity``, ``CouplingFlowDensity``, ``NAFDensity`` and
  ``GaussianMixture(10)``. Every flow trains a fixed number of epochs with
  Adam (batch 256, gradient norm clipped at 10, no early stopping), so
  per-epoch times compare like with like; the learning rate is each
  family's default (1e-2 for residual flows, normflows' included; 1e-3 for
  the others). Residual flows are scored with their exact log-determinant.
- structure: data sampled from the linear Gaussian Bayesian networks ecoli70
  and arth150, with 2x and 100x as many training rows as the network has
  nodes, and 2,000 test rows; held-out log-likelihood of the graphical
  residual flow given the true graph, the complete DAG along a topological
  order of it ("complete"), and no edges ("empty"), against the network's
  own log-density ("truth"), over seeds. Training: learning rate 1e-3, at
  most ten times ``--epochs`` epochs with early stopping on 10% of the
  training rows.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.mixture import GaussianMixture
from tqdm.auto import tqdm

from ..datasets import load_bayesian_network
from ..density import CouplingFlowDensity, NAFDensity, PlanarFlowDensity, ResidualFlowDensity
from ..structure.graphs import complete_dag, topological_order
from .density import run_fixed_epochs
from .report import mean_std, to_markdown

#: Shared residual architecture: 4 blocks of one hidden layer of 128 units.
N_BLOCKS, HIDDEN, LIPSCHITZ = 4, (128,), 0.97
TRAINING = dict(batch_size=256, learning_rate=1e-3, validation_fraction=0.0,
                n_iter_no_change=None, clip_grad_norm=10.0)
#: ResidualFlowDensity's default step size, given to normflows' residual flow too.
RESIDUAL_LEARNING_RATE = 1e-2
#: The structure part's step size: small steps, many epochs, early stopping.
STRUCTURE_LEARNING_RATE = 1e-3
DENSITY_TABLES = ["magic", "gas_turbine", "wine_quality_white"]
GRAPHS = ("true", "complete", "empty")
#: Power-iteration steps of normflows' spectral norms after each optimizer
#: step (its LipschitzMLP's default) and after training.
POWER_STEPS, FINAL_POWER_STEPS = 5, 200


class NormflowsResidualFlow(DensityMixin, BaseEstimator):
    """normflows' residual flow (Chen et al.'s implementation) of our default
    size: ``N_BLOCKS`` blocks of ActNorm and an invertible residual block
    with a LipSwish MLP ``[d, 128, d]`` whose layers have Lipschitz constant
    0.97 each, trained (float64) with the same loop settings as ours and its
    own Russian-roulette estimator with Neumann-series gradients, its
    spectral norms updated after every step as its examples do; scored with
    the exact log-determinant (a Jacobian by autograd per block)."""

    def __init__(self, max_epochs: int = 20, random_state: int = 0,
                 batch_size: int = TRAINING["batch_size"]) -> None:
        self.max_epochs = max_epochs
        self.random_state = random_state
        self.batch_size = batch_size

    def _build(self, n_features: int) -> torch.nn.Module:
        import normflows as nf

        flows = []
        for _ in range(N_BLOCKS):   # listed base -> data; log_prob runs them in reverse
            network = nf.nets.LipschitzMLP([n_features, *HIDDEN, n_features],
                                           lipschitz_const=LIPSCHITZ, init_zeros=True)
            flows += [nf.flows.Residual(network, reduce_memory=True),
                      nf.flows.ActNorm(n_features)]
        base = nf.distributions.DiagGaussian(n_features, trainable=False)
        return nf.NormalizingFlow(base, flows).double()

    def fit(self, X, y=None):
        import normflows as nf

        with torch.random.fork_rng():
            torch.manual_seed(self.random_state)
            self.flow_ = self._build(X.shape[1])
            data = torch.as_tensor(X, dtype=torch.float64)
            self.flow_.log_prob(data[:4096])          # ActNorm's data-dependent start
            optimizer = torch.optim.Adam(self.flow_.parameters(), lr=RESIDUAL_LEARNING_RATE)
            generator = torch.Generator().manual_seed(self.random_state)
            self.flow_.train()
            for _ in range(self.max_epochs):
                order = torch.randperm(len(data), generator=generator)
                for start in range(0, len(data), self.batch_size):
                    batch = data[order[start:start + self.batch_size]]
                    loss = self.flow_.forward_kld(batch)
                    optimizer.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.flow_.parameters(),
                                                   TRAINING["clip_grad_norm"])
                    optimizer.step()
                    # normflows' layers read their spectral norm from vectors
                    # that only this call updates (its examples make it too).
                    nf.utils.update_lipschitz(self.flow_, POWER_STEPS)
            nf.utils.update_lipschitz(self.flow_, FINAL_POWER_STEPS)
            self.flow_.eval()
        return self

    def score_samples(self, X):
        data = torch.as_tensor(X, dtype=torch.float64)
        return np.concatenate([self._exact_log_prob(chunk).numpy()
                               for chunk in data.split(2048)])

    def _exact_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        import normflows as nf

        log_prob = torch.zeros(len(x), dtype=x.dtype)
        z = x
        for flow in reversed(self.flow_.flows):
            if isinstance(flow, nf.flows.Residual):
                z = z.detach().requires_grad_(True)
                residual = flow.iresblock.nnet(z)
                jacobian = torch.stack([
                    torch.autograd.grad(residual[:, j].sum(), z, retain_graph=True)[0]
                    for j in range(z.shape[1])], dim=1)
                identity = torch.eye(z.shape[1], dtype=z.dtype)
                log_prob = log_prob + torch.linalg.slogdet(identity + jacobian)[1].detach()
                z = (z + residual).detach()
            else:
                with torch.no_grad():
                    z, log_det = flow.inverse(z)
                log_prob = log_prob + log_det
        with torch.no_grad():
            return log_prob + self.flow_.q0.log_prob(z)

    def score(self, X, y=None):
        return float(np.mean(self.score_samples(X)))


def density_methods(max_epochs: int, with_normflows: bool) -> dict[str, Callable[[int], object]]:
    """Factories ``seed -> estimator`` of the density part."""
    def residual(**settings):
        return lambda seed: ResidualFlowDensity(
            n_blocks=N_BLOCKS, hidden_dims=HIDDEN, lipschitz=LIPSCHITZ, max_epochs=max_epochs,
            device="cpu", random_state=seed,
            **{**TRAINING, "learning_rate": RESIDUAL_LEARNING_RATE}, **settings)

    methods: dict[str, Callable[[int], object]] = {
        "ResidualFlowDensity": residual(log_det="exact"),
        "ResidualFlowDensity(estimate)": residual(log_det="estimate"),
    }
    if with_normflows:
        methods["normflows Residual"] = lambda seed: NormflowsResidualFlow(max_epochs, seed)
    methods.update({
        "PlanarFlowDensity": lambda seed: PlanarFlowDensity(
            n_layers=16, max_epochs=max_epochs, device="cpu", random_state=seed, **TRAINING),
        "CouplingFlowDensity": lambda seed: CouplingFlowDensity(
            n_layers=4, max_epochs=max_epochs, device="cpu", random_state=seed, **TRAINING),
        "NAFDensity": lambda seed: NAFDensity(
            n_flows=3, max_epochs=max_epochs, device="cpu", random_state=seed, **TRAINING),
        "GaussianMixture(10)": lambda seed: GaussianMixture(10, random_state=seed),
    })
    return methods


def graph_for(network, graph: str):
    """The ``adjacency`` given to the flow for one of :data:`GRAPHS`."""
    if graph == "true":
        return network.adjacency
    if graph == "complete":
        return complete_dag(topological_order(network.adjacency))
    if graph == "empty":
        return "empty"
    raise ValueError(f"graph must be one of {GRAPHS}, got {graph!r}.")


def run_structure(networks: Sequence[str], multipliers: Sequence[int], seeds: Sequence[int],
                  max_epochs: int, graphs: Sequence[str] = GRAPHS, n_test: int = 2000,
                  progress: bool = True) -> pd.DataFrame:
    """One row per (network, training size, graph, seed): held-out mean
    log-likelihood of the graphical residual flow and of the network itself."""
    runs = [(n, m, s, g) for n in networks for m in multipliers for s in seeds for g in graphs]
    records = []
    for name, multiplier, seed, graph in tqdm(runs, desc="structure", disable=not progress):
        network = load_bayesian_network(name)
        n_nodes = len(network.nodes)
        X_train = network.sample(multiplier * n_nodes, random_state=seed).to_numpy()
        X_test = network.sample(n_test, random_state=10_000 + seed).to_numpy()
        start = time.perf_counter()
        flow = ResidualFlowDensity(
            n_blocks=N_BLOCKS, hidden_dims=HIDDEN, adjacency=graph_for(network, graph),
            learning_rate=STRUCTURE_LEARNING_RATE, max_epochs=max_epochs, device="cpu",
            random_state=seed).fit(X_train)
        records.append({
            "network": name, "n_nodes": n_nodes, "multiplier": multiplier,
            "n_train": len(X_train), "graph": graph, "seed": seed,
            "test_loglik": flow.score(X_test),
            "true_loglik": float(network.log_density(X_test).mean()),
            "epochs": flow.n_iter_, "fit_seconds": time.perf_counter() - start,
        })
    return pd.DataFrame.from_records(records)


def structure_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Held-out log-likelihood per network, size and graph (mean ± sd over
    seeds), the truth beside it, and the graph that wins on average."""
    keys = ["network", "multiplier"]
    table = mean_std(runs, [*keys, "graph"], "test_loglik", digits=2).unstack("graph")
    table = table[[g for g in GRAPHS if g in table.columns]]
    table["truth"] = mean_std(runs.drop_duplicates([*keys, "seed"]), keys, "true_loglik",
                              digits=2)
    means = runs.groupby([*keys, "graph"])["test_loglik"].mean().unstack("graph")
    table["best"] = means.idxmax(axis=1)
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["density", "structure"],
                        choices=["density", "structure"])
    parser.add_argument("--datasets", nargs="+", default=DENSITY_TABLES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=20,
                        help="density part: epochs per flow (structure part: 10x, with "
                             "early stopping)")
    parser.add_argument("--max-rows", type=int, default=10000,
                        help="density part: subsample larger tables to this many rows")
    parser.add_argument("--networks", nargs="+", default=["ecoli70", "arth150"])
    parser.add_argument("--multipliers", type=int, nargs="+", default=[2, 100])
    parser.add_argument("--no-normflows", action="store_true")
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="CSV",
                        help="print the tables of saved runs instead of running")
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    args = parser.parse_args(argv)
    if args.summarize:
        for path in args.summarize:
            runs = pd.read_csv(path)
            print(structure_summary(runs) if "graph" in runs else density_summary(runs))
        return
    with_normflows = not args.no_normflows
    if with_normflows:
        try:
            import normflows  # noqa: F401
        except ImportError:
            print("normflows is not installed: its column is left out (pip install normflows).")
            with_normflows = False
    args.output.mkdir(parents=True, exist_ok=True)
    if "density" in args.parts:
        frames = []
        for dataset in args.datasets:       # saved after each table: long runs keep results
            frames.append(run_fixed_epochs([dataset], args.seeds,
                                           density_methods(args.epochs, with_normflows),
                                           args.epochs, args.max_rows))
            pd.concat(frames).to_csv(args.output / "residual-density.csv", index=False)
        print(density_summary(pd.concat(frames, ignore_index=True)))
    if "structure" in args.parts:
        frames = []
        for network in args.networks:
            for multiplier in args.multipliers:
                frames.append(run_structure([network], [multiplier], args.seeds,
                                            10 * args.epochs))
                pd.concat(frames).to_csv(args.output / "residual-structure.csv", index=False)
        print(structure_summary(pd.concat(frames, ignore_index=True)))


def _seeds(runs: pd.DataFrame) -> list[int]:
    return sorted(int(seed) for seed in runs["seed"].unique())


def density_summary(runs: pd.DataFrame) -> str:
    loglik = mean_std(runs, ["dataset", "method"], "test_loglik").unstack("method")
    flows = runs[runs["seconds_per_epoch"].notna()]
    per_epoch = mean_std(flows, ["dataset", "method"], "seconds_per_epoch",
                         digits=2).unstack("method")
    order = list(runs["method"].unique())
    return (f"\nHeld-out mean log-likelihood (standardized units), seeds "
            f"{_seeds(runs)}\n\n{to_markdown(loglik[order])}"
            f"\n\nSeconds per epoch\n\n"
            f"{to_markdown(per_epoch[[m for m in order if m in per_epoch.columns]])}")


def structure_summary(runs: pd.DataFrame) -> str:
    return (f"\nGraphical residual flow, held-out mean log-likelihood (nats per row), seeds "
            f"{_seeds(runs)}\n\n{to_markdown(structure_table(runs))}")


if __name__ == "__main__":
    main()
