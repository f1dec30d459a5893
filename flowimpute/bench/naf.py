"""NAFDensity against its own affine variant, CouplingFlowDensity, GaussianMixture
and (when installed) zuko's NAF and MAF.

Run with ``python -m flowimpute.bench.naf`` (``pip install zuko`` first for the
zuko columns; flowimpute itself never imports it). Three parts:

- grid: a 5x5 grid of Gaussians in 2-D; held-out log-likelihood of NAF with
  the DSF, DDSF and affine transformers at equal depth, and the mass of each
  fitted density on a 400x400 grid over [-4, 4]^2 (should be 1).
- sampling: time to draw 10,000 rows from a 10-feature model, NaN/inf count,
  and the gap between the samples' and the training data's means and
  correlations.
- real: held-out mean log-likelihood (standardized units; 90/10 split per
  seed, standardized with training statistics) on shared data sets, and
  seconds per epoch. Every flow trains a fixed number of epochs with Adam
  (learning rate 1e-3, batch 256, gradient norm clipped at 10, no early
  stopping), so the per-epoch times compare like with like.
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

from ..datasets import make_grid_of_gaussians
from ..density import CouplingFlowDensity, NAFDensity
from .density import run_fixed_epochs
from .report import mean_std, to_markdown

#: Shared architecture: 3 autoregressive layers, MADE (64, 64), 16 units.
N_FLOWS, HIDDEN, UNITS = 3, (64, 64), 16
TRAINING = dict(batch_size=256, learning_rate=1e-3, validation_fraction=0.0,
                n_iter_no_change=None, clip_grad_norm=10.0)


class ZukoDensity(DensityMixin, BaseEstimator):
    """zuko's ``NAF`` or ``MAF`` trained with the same loop settings as ours
    (float32, zuko's default precision)."""

    def __init__(self, kind: str = "NAF", max_epochs: int = 20, random_state: int = 0,
                 batch_size: int = TRAINING["batch_size"]) -> None:
        self.kind = kind
        self.max_epochs = max_epochs
        self.random_state = random_state
        self.batch_size = batch_size

    def _build(self, n_features: int) -> torch.nn.Module:
        import zuko

        if self.kind == "NAF":
            return zuko.flows.NAF(n_features, transforms=N_FLOWS, signal=UNITS,
                                  hidden_features=HIDDEN)
        return zuko.flows.MAF(n_features, transforms=N_FLOWS, hidden_features=HIDDEN)

    def fit(self, X, y=None):
        with torch.random.fork_rng():
            torch.manual_seed(self.random_state)
            self.flow_ = self._build(X.shape[1])
            data = torch.as_tensor(X, dtype=torch.float32)
            optimizer = torch.optim.Adam(self.flow_.parameters(), lr=TRAINING["learning_rate"])
            generator = torch.Generator().manual_seed(self.random_state)
            for _ in range(self.max_epochs):
                order = torch.randperm(len(data), generator=generator)
                for start in range(0, len(data), self.batch_size):
                    batch = data[order[start:start + self.batch_size]]
                    loss = -self.flow_().log_prob(batch).mean()
                    optimizer.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.flow_.parameters(),
                                                   TRAINING["clip_grad_norm"])
                    optimizer.step()
        return self

    def score_samples(self, X):
        with torch.no_grad():
            data = torch.as_tensor(X, dtype=torch.float32)
            return np.concatenate([self.flow_().log_prob(chunk).double().numpy()
                                   for chunk in data.split(8192)])

    def score(self, X, y=None):
        return float(np.mean(self.score_samples(X)))


def naf(transformer: str, max_epochs: int, seed: int, **overrides) -> NAFDensity:
    settings = dict(n_flows=N_FLOWS, hidden_dims=HIDDEN, transformer=transformer,
                    n_transformer_units=UNITS, max_epochs=max_epochs, device="cpu",
                    random_state=seed, **TRAINING)
    return NAFDensity(**{**settings, **overrides})


def real_methods(max_epochs: int, with_zuko: bool,
                 with_ddsf: bool) -> dict[str, Callable[[int], object]]:
    methods = {
        "NAF (dsf)": lambda seed: naf("dsf", max_epochs, seed),
        "NAF (affine)": lambda seed: naf("affine", max_epochs, seed),
        "CouplingFlowDensity": lambda seed: CouplingFlowDensity(
            n_layers=2 * N_FLOWS, hidden_dims=HIDDEN, max_epochs=max_epochs, device="cpu",
            random_state=seed, **TRAINING),
        "GaussianMixture(10)": lambda seed: GaussianMixture(10, random_state=seed),
    }
    if with_ddsf:
        methods["NAF (ddsf)"] = lambda seed: naf("ddsf", max_epochs, seed)
    if with_zuko:
        methods["zuko NAF"] = lambda seed: ZukoDensity("NAF", max_epochs, seed)
        methods["zuko MAF"] = lambda seed: ZukoDensity("MAF", max_epochs, seed)
    return methods


def run_real(datasets: Sequence[str], seeds: Sequence[int], max_epochs: int,
             with_zuko: bool, with_ddsf: bool, max_rows: int | None) -> pd.DataFrame:
    return run_fixed_epochs(datasets, seeds, real_methods(max_epochs, with_zuko, with_ddsf),
                            max_epochs, max_rows)


def run_grid(seeds: Sequence[int], max_epochs: int) -> pd.DataFrame:
    edges = np.linspace(-4, 4, 401)
    centers = (edges[:-1] + edges[1:]) / 2
    grid = np.stack(np.meshgrid(centers, centers), axis=-1).reshape(-1, 2)
    records = []
    for seed in seeds:
        X_train = make_grid_of_gaussians(10000, random_state=seed)
        X_test = make_grid_of_gaussians(5000, random_state=1000 + seed)
        for transformer in ("dsf", "ddsf", "affine"):
            model = naf(transformer, max_epochs, seed, n_flows=2, hidden_dims=(64, 64))
            model.fit(X_train)
            mass = np.exp(model.score_samples(grid)).sum() * (edges[1] - edges[0]) ** 2
            records.append({"method": f"NAF ({transformer})", "seed": seed,
                             "test_loglik": model.score(X_test), "grid_mass": mass})
    return pd.DataFrame.from_records(records)


def run_sampling(seed: int = 0, n_samples: int = 10000) -> pd.DataFrame:
    rng = np.random.RandomState(seed)
    mixing = rng.normal(size=(10, 10)) / np.sqrt(10)
    X = rng.standard_t(df=5, size=(5000, 10)) @ mixing + np.arange(10)
    records = []
    for transformer in ("dsf", "ddsf", "affine"):
        model = naf(transformer, 30, seed, learning_rate=3e-3).fit(X)
        start = time.perf_counter()
        samples = model.sample(n_samples, random_state=seed)
        seconds = time.perf_counter() - start
        finite = np.isfinite(samples).all(axis=1)
        records.append({
            "method": f"NAF ({transformer})", "sample_seconds": seconds,
            "non_finite_rows": int((~finite).sum()),
            "max |mean gap| / std": float(np.max(np.abs(samples[finite].mean(0) - X.mean(0))
                                                 / X.std(0))),
            "max |corr gap|": float(np.max(np.abs(np.corrcoef(samples[finite].T)
                                                  - np.corrcoef(X.T)))),
            "std ratio range": f"{np.min(samples[finite].std(0) / X.std(0)):.2f}-"
                               f"{np.max(samples[finite].std(0) / X.std(0)):.2f}",
        })
    return pd.DataFrame.from_records(records)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["grid", "sampling", "real"])
    parser.add_argument("--datasets", nargs="+",
                        default=["magic", "gas_turbine", "wine_quality_white", "letter"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--max-rows", type=int, default=None,
                        help="subsample larger data sets to this many rows (per seed)")
    parser.add_argument("--no-zuko", action="store_true")
    parser.add_argument("--with-ddsf", action="store_true",
                        help="add NAF (ddsf) to the real-data part (about 15x dsf's time)")
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    args = parser.parse_args(argv)
    with_zuko = not args.no_zuko
    if with_zuko:
        try:
            import zuko  # noqa: F401
        except ImportError:
            print("zuko is not installed: its columns are left out (pip install zuko).")
            with_zuko = False
    args.output.mkdir(parents=True, exist_ok=True)
    if "grid" in args.parts:
        grid = run_grid(args.seeds, max_epochs=args.epochs)
        grid.to_csv(args.output / "naf-grid.csv", index=False)
        table = pd.DataFrame({"test loglik": mean_std(grid, ["method"], "test_loglik"),
                              "grid mass": mean_std(grid, ["method"], "grid_mass")})
        print(f"\n5x5 grid of Gaussians, 2 flows each, {args.epochs} epochs, "
              f"seeds {args.seeds}\n\n{to_markdown(table)}")
    if "sampling" in args.parts:
        sampling = run_sampling()
        sampling.to_csv(args.output / "naf-sampling.csv", index=False)
        print("\nSampling 10,000 rows from a 10-feature model (3 flows, 30 epochs)\n\n"
              + to_markdown(sampling.round(3)))
    if "real" in args.parts:
        frames = []
        for dataset in args.datasets:   # saved after each data set: long runs keep results
            frames.append(run_real([dataset], args.seeds, args.epochs, with_zuko,
                                   args.with_ddsf, args.max_rows))
            real = pd.concat(frames, ignore_index=True)
            real.to_csv(args.output / "naf-real.csv", index=False)
        loglik = mean_std(real, ["dataset", "method"], "test_loglik").unstack("method")
        flows = real[real["seconds_per_epoch"].notna()]
        per_epoch = mean_std(flows, ["dataset", "method"], "seconds_per_epoch",
                             digits=2).unstack("method")
        order = list(real["method"].unique())
        print(f"\nHeld-out mean log-likelihood (standardized units), {args.epochs} epochs, "
              f"seeds {args.seeds}\n\n{to_markdown(loglik[order])}"
              f"\n\nSeconds per epoch\n\n"
              f"{to_markdown(per_epoch[[m for m in order if m in per_epoch.columns]])}")


if __name__ == "__main__":
    main()
