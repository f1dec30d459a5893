"""GAIN (Yoon, Jordon and van der Schaar, 2018), the adversarial imputer, as a baseline.

A generator fills each row's gaps from its observed entries, its mask and
noise; a discriminator, given the completed row and a hint (the mask with a
random share of its entries replaced by 1/2), guesses which entries were
observed. The generator is trained to fool it on the missing entries and to
reproduce the observed ones (weighted by ``alpha``). Columns are min-max
scaled to [0, 1] on their observed entries, as in the paper's code. Settings
are the paper's: batch 128, hint rate 0.9, ``alpha = 100``, 10,000
iterations, networks of two hidden layers as wide as the table.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from torch import nn


def _network(n_features: int, output: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2 * n_features, n_features), nn.ReLU(),
                         nn.Linear(n_features, n_features), nn.ReLU(),
                         nn.Linear(n_features, n_features), output)


class GAINImputer(TransformerMixin, BaseEstimator):
    """Generative adversarial imputation nets, with the paper's defaults.

    Parameters
    ----------
    batch_size : int, default=128
    hint_rate : float, default=0.9
        Share of the mask revealed to the discriminator.
    alpha : float, default=100.0
        Weight of the generator's reconstruction loss on observed entries.
    n_iterations : int, default=10000
    random_state : int, default=0
    """

    def __init__(self, batch_size: int = 128, hint_rate: float = 0.9, alpha: float = 100.0,
                 n_iterations: int = 10000, random_state: int = 0) -> None:
        self.batch_size = batch_size
        self.hint_rate = hint_rate
        self.alpha = alpha
        self.n_iterations = n_iterations
        self.random_state = random_state

    def _scaled(self, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        observed = ~np.isnan(X)
        scaled = np.nan_to_num((X - self.low_) / self.span_)
        return (torch.as_tensor(scaled, dtype=torch.float32),
                torch.as_tensor(observed, dtype=torch.float32))

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        self.low_ = np.nan_to_num(np.nanmin(X, axis=0))
        self.span_ = np.nan_to_num(np.nanmax(X, axis=0)) - self.low_
        self.span_[self.span_ == 0] = 1.0
        values, mask = self._scaled(X)
        n_rows, n_features = values.shape
        with torch.random.fork_rng():
            torch.manual_seed(self.random_state)
            self.generator_ = _network(n_features, nn.Sigmoid())
            discriminator = _network(n_features, nn.Sigmoid())
            optimizer_g = torch.optim.Adam(self.generator_.parameters())
            optimizer_d = torch.optim.Adam(discriminator.parameters())
            for _ in range(self.n_iterations):
                rows = torch.randint(n_rows, (min(self.batch_size, n_rows),))
                x, m = values[rows], mask[rows]
                noise = torch.rand_like(x) * 0.01
                x_tilde = m * x + (1 - m) * noise
                reveal = (torch.rand_like(x) < self.hint_rate).float()
                hint = m * reveal + 0.5 * (1 - reveal)

                fake = self.generator_(torch.cat([x_tilde, m], dim=1))
                completed = m * x + (1 - m) * fake
                guess = discriminator(torch.cat([completed.detach(), hint], dim=1))
                loss_d = -torch.mean(m * torch.log(guess + 1e-8)
                                     + (1 - m) * torch.log(1 - guess + 1e-8))
                optimizer_d.zero_grad()
                loss_d.backward()
                optimizer_d.step()

                guess = discriminator(torch.cat([completed, hint], dim=1))
                loss_adversarial = -torch.mean((1 - m) * torch.log(guess + 1e-8))
                reconstruction = torch.sum((m * x - m * fake) ** 2) / torch.sum(m).clamp_min(1)
                loss_g = loss_adversarial + self.alpha * reconstruction
                optimizer_g.zero_grad()
                loss_g.backward()
                optimizer_g.step()
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        values, mask = self._scaled(X)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(self.random_state)
            x_tilde = mask * values + (1 - mask) * torch.rand_like(values) * 0.01
            fake = self.generator_(torch.cat([x_tilde, mask], dim=1)).double().numpy()
        imputed = fake * self.span_ + self.low_
        return np.where(np.isnan(X), imputed, X)
