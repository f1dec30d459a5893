"""FlowImputer: any flowimpute density becomes an imputer of p(x_missing | x_observed)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._base import draw_seed
from ..inference.conditional import FlowConditional
from ..inference.missingness import SelfMaskingModel
from ..inference.selection import hide_observed_entries
from ..preprocessing.codec import ColumnCodec
from ._base import BaseFlowImputer
from ._choices import (
    GRADIENT_STEP_CANDIDATES,
    chain_starts,
    choose_mean_weight,
    choose_step_counts,
    mean_weight_rows,
)
from ._em import InitialFill, density_templates, fit_by_em


class FlowImputer(BaseFlowImputer):
    """Impute missing entries from a normalizing-flow density of the rows.

    A flow gives ``log p(x)`` exactly, so for a row with missing entries it
    gives the conditional ``p(x_mis | x_obs)`` up to a constant. The imputer
    fits flow densities on the incomplete table by Monte Carlo EM (gaps
    filled by ``initial_strategy``, densities trained on the fill with noise
    on the filled entries, then ``max_em_iter`` rounds of refilling from the
    densities and training on), and imputes each row from its conditional:
    by a search towards the conditional mode, by the conditional mean
    (Langevin chains), or by a blend of both; :meth:`sample_imputations`
    draws multiple imputations by Metropolis-adjusted Langevin chains. The
    user guide's "Which estimator when" explains each part and gives the
    measurements behind the defaults.

    Parameters
    ----------
    density : estimator, list of estimators or None, default=None
        A flowimpute flow density (``NAFDensity``, ``CouplingFlowDensity``),
        cloned, its ``random_state``, ``device`` and ``dtype`` set from the
        imputer's; a list: an ensemble of several kinds. None:
        ``NAFDensity(n_flows=3, hidden_dims=(64, 64), max_epochs=100)``.
    ensemble_size : int, default=1
        Densities of each kind fitted with different seeds; the point
        imputation averages their searches, draw ``i`` comes from density
        ``i % len(densities_)``. Costs ``ensemble_size`` times the time.
    dequantize : bool, default=True
        Give the densities uniform noise over the grid cell of every discrete
        column (at most 64 evenly spaced values), so the density is smooth
        across cells; False leaves the density's own ``dequantization``.
    marginal : {"standard", "yeo-johnson"}, default="standard"
        Per-column transform before the flow: standardization only, or also a
        Yeo-Johnson power transform (for heavy tails).
    missing_mechanism : {"mar", "self-masking"}, default="mar"
        "mar": missingness ignorable (MCAR or MAR). "self-masking": a logistic
        model per column of missingness given the column's own value (as
        not-MIWAE), refitted on the completed table in every EM round; the
        imputations then follow ``p(x_mis | x_obs, m)`` and may leave the
        observed range by up to its width.
    initial_strategy : {"iterative", "mean"}, default="iterative"
        First fill of the gaps and start of the conditional search:
        scikit-learn's IterativeImputer (fitted with some entries of every
        gap-free column hidden, so it can predict every column), or the mean.
    max_em_iter : int, default=5
        EM rounds after the first fit (0: fit once on the initial fill).
    em_epochs : int, default=10
        Training epochs after each refill (warm start).
    em_tol : float, default=1e-3
        Stop the EM rounds when the training fill moves less (RMS).
    gap_noise : float, default=0.5
        Standard deviation of the noise on the filled training entries, as a
        multiple of each column's error of the initial fill; 0 is hard EM.
    em_gradient_steps : int, default=25
        Adam steps of each EM round's refill, from the previous fill.
    n_gradient_steps : int or "auto", default="auto"
        Adam steps of the conditional-mode search in ``transform``; "auto"
        chooses them per column at fit among 0, 5, 10, 25, 50 and 100, on
        hidden observed training entries (stopping early lands nearer the
        conditional mean on skewed columns).
    gradient_step_size : float, default=0.05
        Adam step size of the conditional-mode search (model coordinates).
    point_estimate : {"mode", "mean", "auto"}, default="mode"
        The point imputation: the mode search, the conditional mean
        (``n_mean_chains`` chains, deterministic, several times slower), or
        their blend with one weight chosen at fit on hidden training entries
        (pays with an ensemble).
    n_mean_chains : int, default=6
        Chains averaged for the conditional mean; chain ``i`` runs under
        density ``i % len(densities_)``.
    mean_chain_start : {"mode", "neighbours"}, default="mode"
        Start the conditional mean's chains at the mode, or each at one of
        the row's nearest completed training rows (kept as
        ``training_fill_``), moved a few steps up its chain's density.
    sample_posterior : bool, default=False
        ``transform`` returns one Langevin draw (seeded by ``random_state``).
    n_mcmc_steps : int, default=200
        Steps per draw and per mean chain (half of them tune the step size).
    {imputer}
    {table}
    {compute}

    Attributes
    ----------
    densities_ : list of estimator
        The fitted flow densities of the model coordinates, the kinds of a
        ``density`` list alternating.
    initial_fill_ : InitialFill
        The first fill of the gaps (model coordinates; with
        ``marginal="yeo-johnson"`` the transform is ``codec_.power_``).
    missingness_coef_, missingness_intercept_ : ndarray of shape (n_modelled_features,) or None
        With ``missing_mechanism="self-masking"``, each column's logistic
        missingness model (model coordinates); None otherwise.
    gap_noise_std_ : ndarray of shape (n_modelled_features,)
        Standard deviation of the noise on each column's filled training
        entries (model coordinates).
    em_history_ : list of float
        RMS change of the training fill in each EM round.
    gradient_steps_ : ndarray of int of shape (n_modelled_features,) or None
        With ``n_gradient_steps="auto"``, the search steps chosen per column.
    mean_weight_ : float or None
        With ``point_estimate="auto"``, the weight of the conditional mean.
    training_fill_ : ndarray of shape (n_samples_fit, n_modelled_features) or None
        With ``mean_chain_start="neighbours"``, the last EM fill of the
        training rows (model coordinates).
    {imputer_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute import CouplingFlowDensity, FlowImputer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.multivariate_normal([0, 0, 0], [[1, .9, .5], [.9, 1, .5], [.5, .5, 1]], 300)
    >>> X[::4, 0] = np.nan
    >>> imputer = FlowImputer(CouplingFlowDensity(n_layers=2, max_epochs=5), max_em_iter=1,
    ...                       random_state=0)
    >>> np.isnan(imputer.fit_transform(X)).any()
    np.False_
    """

    _parameter_constraints: dict = {
        **BaseFlowImputer._parameter_constraints,
        "density": [HasMethods(["fit", "score_samples"]), list, tuple, None],
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
        "dequantize": ["boolean"],
        "marginal": [StrOptions({"yeo-johnson", "standard"})],
        "missing_mechanism": [StrOptions({"mar", "self-masking"})],
        "initial_strategy": [StrOptions({"iterative", "mean"})],
        "max_em_iter": [Interval(Integral, 0, None, closed="left")],
        "em_epochs": [Interval(Integral, 1, None, closed="left")],
        "em_tol": [Interval(Real, 0, None, closed="left")],
        "gap_noise": [Interval(Real, 0, None, closed="left")],
        "em_gradient_steps": [Interval(Integral, 0, None, closed="left")],
        "n_gradient_steps": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "gradient_step_size": [Interval(Real, 0, None, closed="neither")],
        "point_estimate": [StrOptions({"auto", "mode", "mean"})],
        "n_mean_chains": [Interval(Integral, 1, None, closed="left")],
        "mean_chain_start": [StrOptions({"mode", "neighbours"})],
        "sample_posterior": ["boolean"],
        "n_mcmc_steps": [Interval(Integral, 2, None, closed="left")],
    }

    parameters = {
        "density": None, "ensemble_size": 1, "dequantize": True, "marginal": "standard",
        "missing_mechanism": "mar", "initial_strategy": "iterative", "max_em_iter": 5,
        "em_epochs": 10, "em_tol": 1e-3, "gap_noise": 0.5, "em_gradient_steps": 25,
        "n_gradient_steps": "auto", "gradient_step_size": 0.05, "point_estimate": "mode",
        "n_mean_chains": 6, "mean_chain_start": "mode", "sample_posterior": False,
        "n_mcmc_steps": 200,
    }

    def _make_codec(self) -> ColumnCodec:
        return ColumnCodec(power=None if self.marginal == "standard" else self.marginal,
                           constant_columns="unit-scale",
                           widen_gapped=self.missing_mechanism == "self-masking")

    def _encode(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        return self.codec_.to_model(X_scaled, observed)

    def _conditional(self, densities: list | None = None) -> FlowConditional:
        """The conditionals of the fitted densities (or of ``densities``)."""
        missingness = (None if self.missingness_coef_ is None else
                       SelfMaskingModel(self.missingness_coef_, self.missingness_intercept_))
        return FlowConditional(densities or self.densities_,
                               self._to_tensor(self.codec_.model_low_),
                               self._to_tensor(self.codec_.model_high_),
                               self.gradient_step_size, self.n_mcmc_steps, self._row_chunks,
                               missingness)

    # ------------------------------------------------------------------ fit
    def _fit_model(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int) -> None:
        rng = np.random.RandomState(seed)
        Z = self._encode(X_scaled, observed)
        self.initial_fill_ = InitialFill(self.initial_strategy).fit(Z, rng)
        filled, gaps = self.initial_fill_.transform(Z), np.isnan(Z)
        settings = {"device": self.device, "dtype": self.dtype, "verbose": self.verbose}
        if self.dequantize:
            settings["dequantization"] = self.codec_.model_lattice_widths(
                np.where(observed, X_scaled, np.nan))
        self.gap_noise_std_ = np.zeros(Z.shape[1])
        if self.gap_noise > 0 and gaps.any():
            self.gap_noise_std_ = self.gap_noise * self.initial_fill_.error(
                hide_observed_entries(X_scaled, observed, rng), self._encode)
        self.missingness_coef_ = self.missingness_intercept_ = None

        def fit_missingness(fill: np.ndarray) -> None:
            if self.missing_mechanism == "self-masking":
                model = SelfMaskingModel.fit(fill, gaps)
                self.missingness_coef_, self.missingness_intercept_ = model.coef, model.intercept

        def refill(densities: list, fill: np.ndarray) -> np.ndarray:
            return self._conditional(densities).mode(
                fill, ~gaps, np.full(fill.shape[1], self.em_gradient_steps))

        self.densities_, filled, self.em_history_ = fit_by_em(
            density_templates(self.density), self.ensemble_size, settings, filled, gaps,
            self.gap_noise_std_, rng, max_rounds=self.max_em_iter, epochs=self.em_epochs,
            tol=self.em_tol, refill=refill, after_fill=fit_missingness)
        self.training_fill_ = filled if self.mean_chain_start == "neighbours" else None
        self.gradient_steps_ = None
        if self.n_gradient_steps == "auto":
            held = hide_observed_entries(X_scaled, observed, rng)
            self.gradient_steps_ = choose_step_counts(
                self._conditional(), held,
                self.initial_fill_.transform(self._encode(held.truth, held.kept)),
                ~observed[held.rows], self.codec_.from_model)
        self._mean_seed_ = int(rng.randint(2**31))
        self.mean_weight_ = None
        if self.point_estimate == "auto":
            # Hidden observed entries cannot show what a missingness term does.
            held = hide_observed_entries(X_scaled, observed, rng, mean_weight_rows(observed))
            self.mean_weight_ = 0.0
            if self.missingness_coef_ is None and held.hidden.any():
                mode = self._mode(held.truth, held.kept)
                self.mean_weight_ = choose_mean_weight(
                    held, self.codec_.from_model(mode),
                    self._conditional_mean(mode, held.kept, held.rows))

    # ------------------------------------------------------------ inference
    def _steps_per_column(self) -> np.ndarray:
        """The search's step counts: ``n_gradient_steps`` as set now, or the
        per-column choice made at fit (the longest search for columns of the
        self-masking model, whose term hidden entries cannot show)."""
        n_columns = self.modelled_features_.size
        if self.n_gradient_steps != "auto":
            return np.full(n_columns, self.n_gradient_steps)
        if self.gradient_steps_ is None:
            raise ValueError('n_gradient_steps="auto" chooses the step counts during fit; '
                             "this imputer was fitted with a fixed count: refit it.")
        if self.missingness_coef_ is None:
            return self.gradient_steps_
        return np.where(self.missingness_coef_ != 0, max(GRADIENT_STEP_CANDIDATES),
                        self.gradient_steps_)

    def _mode(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The conditional mode search from the initial fill (model coordinates)."""
        start = self.initial_fill_.transform(self._encode(X_scaled, observed))
        return self._conditional().mode(start, observed, self._steps_per_column())

    def _conditional_mean(self, mode: np.ndarray, observed: np.ndarray,
                          own_rows: np.ndarray | None = None) -> np.ndarray:
        """The conditional mean (standardized scale) of the rows whose
        ``mode`` was found; ``own_rows``: their training rows, if any."""
        if self.mean_chain_start == "neighbours" and self.training_fill_ is None:
            raise ValueError('mean_chain_start="neighbours" needs the completed training '
                             'table, kept at fit with that setting only; this imputer was '
                             'fitted with "mode": refit it.')
        conditional = self._conditional()
        fill = self.training_fill_ if self.mean_chain_start == "neighbours" else None
        starts = chain_starts(conditional, mode, observed, fill, self.n_mean_chains, own_rows)
        return conditional.mean(starts, observed, self.n_mean_chains, self._mean_seed_,
                                self.codec_.from_model)

    def _mean_weight(self) -> float:
        """``point_estimate`` as set now, or the weight chosen at fit."""
        if self.point_estimate != "auto":
            return float(self.point_estimate == "mean")
        if self.mean_weight_ is None:
            raise ValueError('point_estimate="auto" chooses the weight of the conditional mean '
                             'during fit; this imputer was fitted with "mode" or "mean": '
                             "refit it.")
        return self.mean_weight_

    def _impute(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The point imputation, or with ``sample_posterior`` one Langevin draw."""
        mode = self._mode(X_scaled, observed)
        if self.sample_posterior:
            seed = draw_seed(self.random_state)
            return self.codec_.from_model(self._conditional().langevin(
                mode, observed, seed, seed % len(self.densities_)))
        weight, estimate = self._mean_weight(), self.codec_.from_model(mode)
        if weight == 0:
            return estimate
        return (1 - weight) * estimate + weight * self._conditional_mean(mode, observed)

    def sample_imputations(self, X, n_imputations: int = 5, random_state=None) -> np.ndarray:
        """Draw several completions of ``X`` from ``p(x_mis | x_obs)`` (MALA).

        Each draw is the last state of a Metropolis-adjusted Langevin chain
        started at the conditional mode, its step size tuned in the first
        half of ``n_mcmc_steps``; draw ``i`` comes from density
        ``i % len(densities_)``. Finite chains can be somewhat too
        concentrated around the mode.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_imputations : int, default=5
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        draws : ndarray of shape (n_imputations, n_samples, n_features_out)
            Observed entries are identical in every draw.
        """
        X, observed, index = self._validate_draw_request(X, n_imputations)
        rng = check_random_state(random_state)
        seeds = [int(rng.randint(2**31)) for _ in range(n_imputations)]

        def draw_estimates(X_scaled: np.ndarray, modelled: np.ndarray,
                           rows: slice) -> list[np.ndarray]:
            mode, conditional = self._mode(X_scaled, modelled), self._conditional()
            return [self.codec_.from_model(conditional.langevin(
                mode, modelled, seed, index % len(self.densities_)))
                for index, seed in enumerate(seeds)]

        return self._complete_draws(X, observed, n_imputations, draw_estimates, index)
