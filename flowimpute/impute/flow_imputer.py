"""FlowImputer: any flowimpute density becomes an imputer of p(x_missing | x_observed)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import clone
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import PowerTransformer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from torch import Tensor
from torch.nn.functional import logsigmoid

from .._base import draw_seed, make_generator
from ..density import FlowDensityMixin, NAFDensity
from ..inference.donors import nearest_rows
from ..inference.mcmc import independent_noise, mala, shared_noise
from ..inference.search import projected_adam
from ..inference.selection import (
    SELECTION_ROWS,
    best_count_per_column,
    hide_observed_entries,
    squared_errors,
)
from ..preprocessing.lattice import lattice_steps
from ._base import BaseFlowImputer

#: Step counts of the conditional-mode search that ``n_gradient_steps="auto"``
#: chooses from, per column (0 keeps the initial fill).
GRADIENT_STEP_CANDIDATES = (0, 5, 10, 25, 50, 100)
#: Weights of the conditional mean against the mode that ``point_estimate="auto"``
#: chooses from (0: the mode alone).
MEAN_WEIGHT_CANDIDATES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Observed training entries in the rows on which that weight is chosen, at
#: most (a fifth of them are hidden). The chains cost time in proportion to
#: the rows; the choice's noise shrinks with the hidden entries: on a
#: two-column table of 2,000 rows, 300-row subsets chose weights from 0.25 to
#: 1 where all rows chose 1 five times in five; on 1,000-row samples of five
#: tables (8 to 16 columns) a 300-row cap chose the same weight as all 750
#: rows in 7 of 10 runs, the test RMSE within 1.4%.
MEAN_WEIGHT_ENTRIES = 6000
#: Adam steps that move each neighbour start of a conditional-mean chain
#: towards its chain's density before the chain runs
#: (``mean_chain_start="neighbours"``).
CHAIN_START_STEPS = 25


class FlowImputer(BaseFlowImputer):
    """Impute missing entries from a normalizing-flow density of the rows.

    A flow gives ``log p(x)`` exactly, so for a row with missing entries it
    gives the conditional ``p(x_mis | x_obs)`` up to a constant. The imputer
    fits the flow on incomplete data and infers each row's missing entries
    from that conditional.

    **Fitting on incomplete data** (EM). The missing training entries
    are first filled by ``initial_strategy``; the density is fitted on the
    completed table; then ``max_em_iter`` times the training gaps are
    re-imputed with the current model (conditional mode, below, with
    ``em_gradient_steps`` Adam steps warm-started from the previous fill) and
    training continues from the current parameters for ``em_epochs`` epochs. The loop
    stops early when the imputations move by less than ``em_tol`` (RMS,
    standardized units).

    Point fills are a surface through the observed entries, and a flow
    trained long enough learns that surface: its conditionals then
    reproduce the fills (at first the linear regressions of the initial
    imputer) instead of correcting them. So the flows never train on the
    fills themselves: every imputed training entry gets Gaussian noise,
    redrawn for the first fit and for every EM round, with a standard
    deviation of ``gap_noise`` times its column's error of the initial fill
    (RMS, on observed training entries hidden at random; ``gap_noise_std_``).
    That is Monte Carlo EM with a Gaussian around each fill standing in for
    ``p(x_mis | x_obs)``: the flows see the missing entries' spread, not a
    sharp surface. ``gap_noise=0`` is hard EM. On 1,000-row samples (MCAR
    20%, mask seed 4, flows of ``batch_size="auto"`` capped at 30 epochs),
    one NAF flow with 0.5 against hard EM: Gas Turbine 0.664 against 0.706,
    Letter 0.608 against 0.642, California 0.661 against 0.697 test RMSE;
    1.0 gave about half that gain, and 0.25 a higher error than 0.5 on
    four of five tables. Three NAF and three coupling flows with 0.5,
    against the same ensemble with hard EM and 256-row batches (the former
    defaults): the VFG paper's synthetic table 0.205 against 0.247, wine
    0.693 against 0.728, Gas Turbine 0.644 against 0.659, Letter 0.589
    against 0.648, California 0.657 against 0.678, at about 1.4 times the
    fit time.

    **Point imputation** (default): a search from the ``initial_strategy``
    fill towards the conditional mode, by Adam steps on
    ``log p(x_obs, x_mis)`` over ``x_mis``, every step kept in the training
    range. Adam scales each coordinate by its own gradient history, so a
    row's result does not depend on the other rows of the batch. How far to
    go is chosen per column at fit (``n_gradient_steps="auto"``): the mode
    is the best point of a sharp, symmetric conditional, while on skewed or
    heavy-tailed columns stopping early, between the regression start and
    the mode, is closer to the conditional mean that the squared error
    rewards. Training rows with 20% of their observed entries hidden are
    imputed, and each column keeps the step count (0, 5, 10, 25, 50 or 100)
    that recovered its hidden entries best. On 1,000-row samples of six
    tables (MCAR 20%, mask seeds 4-7, NAF and coupling densities, measured
    with the Yeo-Johnson marginal then in use) this gave
    a lower test RMSE than a fixed 100 steps in 35 of 48 cases and a higher
    one in 11 (geometric mean ratio 0.975); a fixed 10 steps: 36 and 12, but
    a ratio of 1.007, with large losses on the VFG paper's synthetic table.

    **Mode or mean** (``point_estimate``). The squared error is smallest at
    the conditional mean, which lies away from the mode where
    ``p(x_mis | x_obs)`` is skewed or spread along a curve. "mean" estimates
    it with ``n_mean_chains`` MALA chains (below) started at the mode, each
    averaged over its states after the tuning half, chain ``i`` under
    density ``i % len(densities_)``, averaged after the inverse marginal
    transform. The chains of all rows share their random numbers, so a row's
    estimate does not depend on which rows are imputed with it, and the
    result is deterministic; the Monte Carlo error is then shared by the
    rows of a column rather than independent. Langevin chains do not cross
    between well separated modes, so where the conditional has several the
    estimate averages the modes the chains reach, not their true weights.
    "auto" imputes ``(1 - w) * mode + w * mean`` with one weight ``w`` in
    (0, 0.25, 0.5, 0.75, 1) for all columns, chosen at fit like the step
    counts, on a fresh set of hidden entries in training rows holding up to
    6,000 observed entries (with the self-masking mechanism it keeps the
    mode). It pays with an ensemble: in the benchmark report (three NAF and
    three coupling flows, 1,000-row samples, masks 0-2, 30 epochs) "auto"
    gave a lower test RMSE than the mode in 23 of 33 runs and a higher one
    in 7 (geometric mean ratio 0.983; median RMSE e.g. the VFG paper's
    synthetic table 0.211 -> 0.197, Letter 0.666 -> 0.640, California MAR
    0.862 -> 0.825), at twice the fit time and three times the transform
    time. With one density the chains
    follow that density's sharper, noisier conditional and the choice on
    training rows is less reliable: on 1,000-row samples of five tables
    (mask seed 5) "auto" was lower than the mode in 3 of 5 cases with NAF
    and 2 of 5 with a coupling flow, and 7% higher on California with the
    latter; so the default is "mode". A weight above 0 makes ``transform``
    several times slower (``n_mean_chains`` chains of ``n_mcmc_steps``
    steps against at most 100 search steps per density).
    ``mean_chain_start="neighbours"`` starts chain ``i`` instead at the
    row's ``i``-th nearest row of the EM's last completed training table
    (Euclidean distance over the row's observed entries in the flow input
    space; the row's own training row excluded when the weight is chosen),
    moved first by ``CHAIN_START_STEPS`` Adam steps up its chain's density,
    so that chains can reach modes other than the one the search found. In
    the report's setting it changed the test RMSE both ways (lower in 13 of
    25 runs, higher in 9; geometric mean ratio 1.000; California MAR 20%
    mask 1 0.659 -> 0.634, California MCAR 20% mask 0 0.603 -> 0.676), so
    it is an option, not the default.

    **Multiple imputation** (:meth:`sample_imputations`, or
    ``sample_posterior=True`` for one draw per ``transform``):
    Metropolis-adjusted Langevin (MALA) chains on ``p(x_mis | x_obs)``, one per
    row and draw, started at the conditional mode, with a per-row step size
    tuned during ``n_mcmc_steps // 2`` burn-in steps towards a 0.57
    acceptance rate, then run for the other half; the last state is the
    draw. MALA is exact in the limit; with finite chains the draws can be
    somewhat too concentrated around the mode.

    **Ensembles** (``ensemble_size > 1``). Several densities of the same
    kind, with different seeds, are fitted side by side on the same EM
    fills. The point imputation is the mean of their conditional-mode
    searches (run in lockstep, so "auto" chooses each column's step count
    for that mean), and EM refills the training gaps with it. Averaging
    removes part of what one flow's training noise puts into its modes: on
    1,000-row samples of three tables (Gas Turbine, Letter, wine; MCAR 20%,
    mask seeds 3-4, NAF and coupling densities, 30 epochs), five densities
    gave a lower test RMSE than one in 9 of 12 cases, about equal in one and
    higher in 2 (geometric mean ratio 0.967), at five times the fit and
    transform time. Multiple-imputation draw ``i`` comes from density
    ``i % ensemble_size`` (``sample_posterior``: from one density chosen by
    ``random_state``), so a set of draws mixes the ensemble's conditionals.
    A list of densities (e.g. ``[NAFDensity(), CouplingFlowDensity()]``)
    fits ``ensemble_size`` of each kind and averages them all: which kind
    imputes a table better is not known in advance, and the mixture is
    rarely far from the better one. On 1,000-row samples of six tables
    (mask seeds 3-4, dequantized, 30 epochs) three NAF and three coupling
    flows gave a lower test RMSE than the worse of five NAF or five coupling
    flows in 11 of 12 cases and than the better of them in 7 (higher by less
    than 0.5% in 2 more; geometric mean ratio to the better: 0.986), e.g.
    wine 0.729 against 0.796 (NAF) and 0.875 (coupling).

    **Discrete columns** (``dequantize=True``). A flow fitted to a column
    that takes a few values on a grid (counts, ratings, codes) puts sharp
    spikes on them, and a gradient search on such a density barely moves
    from its start. Each column whose observed values take at most 64
    values on one evenly spaced grid gets uniform noise over its grid cell
    in every training batch (the densities' ``dequantization``), so the
    density is smooth across cells; imputations stay continuous.

    **Heavy tails.** Imputations are clipped to each column's training
    range in every mode, so they cannot explode. ``marginal="yeo-johnson"``
    also Gaussianizes each column by a Yeo-Johnson power transform (fitted
    on the observed entries, exact inverse) before the flow, which keeps
    columns such as California's AveOccup (119 standard deviations in the
    tail) from dominating the fit. It is not the default: the initial
    regression and the search then act in the compressed space, and an error
    there grows when mapped back into a column's tail. On 1,000-row samples
    of eight tables (MCAR 20%, mask seeds 3-5), only standardizing gave a
    lower test RMSE in 18 of 24 cases with a coupling flow (5 higher;
    geometric mean ratio 0.956) and in 13 of 24 with NAF (11 higher; 0.964);
    California: 0.745 vs 0.786 (coupling), 0.679 vs 0.738 (NAF).

    **Missing not at random** (``missing_mechanism="self-masking"``). By
    default the missingness is taken as ignorable (MCAR or MAR), so the
    imputations follow ``p(x_mis | x_obs)``. When a value's own size decides
    whether it goes missing (censored sensors, incomes above a threshold),
    that conditional is biased towards the observed values. The
    self-masking option adds the selection model of not-MIWAE
    (Ipsen et al., 2021): each column with gaps gets a logistic model of
    its probability of being missing given its own value,
    ``P(m_j = 1 | x_j) = sigmoid(a_j x_j + c_j)`` (flow input space), and
    imputation and MCMC target ``p(x_mis | x_obs, m)``, proportional to
    ``p(x) prod_j P(m_j | x_j)``. The logistic models are fitted (L2
    penalty, ``C=1``) on the completed training table before each EM refill
    and after the last one. Imputed values of columns with gaps may then go
    beyond the observed range, by at most its width on either side (the
    values that went missing may all lie outside it). The step-count check
    on hidden observed entries cannot see the mechanism's effect, so under
    "auto" those columns always take the longest search. The assumption is
    the user's: where missingness depends on other, correlated columns (MAR)
    or on nothing (MCAR), the logistic models pick up slopes from the
    imputations and can shift them wrongly (measured in the user guide's
    "Which estimator when").

    Parameters
    ----------
    density : estimator, list of estimators or None, default=None
        A flowimpute flow density (``NAFDensity``, ``CouplingFlowDensity``);
        cloned, its ``random_state``, ``device`` and ``dtype`` set from the
        imputer's. A list: an ensemble of different kinds (see Ensembles
        above). None: ``NAFDensity(n_flows=3, hidden_dims=(64, 64),
        max_epochs=100)``.
    ensemble_size : int, default=1
        Number of densities (of each kind, with a list) fitted with
        different seeds and averaged (see Ensembles above).
    dequantize : bool, default=True
        Give the densities uniform dequantization noise on discrete columns
        (see Discrete columns above); False leaves the density's own
        ``dequantization`` setting.
    marginal : {"standard", "yeo-johnson"}, default="standard"
        Per-column transform before the flow: "standard" only standardizes
        (see Heavy tails above).
    missing_mechanism : {"mar", "self-masking"}, default="mar"
        "mar": missingness ignorable (MCAR or MAR). "self-masking": a
        logistic model per column of missingness given the column's own
        value (see Missing not at random above).
    initial_strategy : {"iterative", "mean"}, default="iterative"
        First fill of the gaps (fit) and starting point of the conditional
        search (fit and transform): scikit-learn's IterativeImputer
        (Bayesian ridge, 10 rounds) in the marginal space, or the mean. The
        IterativeImputer is fitted with 20% of the entries of every column
        that has no gap hidden, so it can predict every column at transform.
    max_em_iter : int, default=5
        Re-imputation rounds after the first fit (0: fit once on the
        initial fill). Five rounds against three (the former default):
        lower test RMSE on Letter (10 of 10 benchmark-suite masks) and with
        the self-masking model (5 of 5), about the same elsewhere, at 1.25
        times the fit time. Eight rounds helped there again but raised the
        error on the report's small tables (10 of 12 masks): raise it for
        wide tables whose flows are still learning. Figures: the user
        guide's "Which estimator when", under "Enough rounds".
    em_epochs : int, default=10
        Training epochs after each re-imputation (warm start).
    em_tol : float, default=1e-3
        Stop the EM rounds when the training imputations move less (RMS).
    gap_noise : float, default=0.5
        Noise given to the imputed training entries the flows train on, as
        a multiple of each column's error of the initial fill (see Fitting
        on incomplete data above); 0: hard EM, the flows train on the fills.
    em_gradient_steps : int, default=25
        Adam steps of each EM round's refill of the training gaps, each round
        starting from the previous round's fill: on 1,000-row samples of four
        tables (MCAR 20%) 25 and 100 steps gave the same test RMSE to about
        0.01, at half the fit time.
    n_gradient_steps : int or "auto", default="auto"
        Adam steps of the conditional-mode search in ``transform`` (see
        Point imputation above); "auto" chooses them per column at fit.
    gradient_step_size : float, default=0.05
        Adam step size of the conditional-mode search (standardized units).
    point_estimate : {"mode", "mean", "auto"}, default="mode"
        The point imputation: the conditional-mode search, the conditional
        mean (MALA chains), or their blend with a weight chosen at fit (see
        Mode or mean above). Read at transform time, except that "auto"
        needs the weight chosen at fit.
    n_mean_chains : int, default=6
        MALA chains averaged for the conditional mean (with an ensemble,
        chain ``i`` runs under density ``i % len(densities_)``, so with
        more densities than chains the later ones take no part in the mean:
        use a multiple of ``len(densities_)``).
    mean_chain_start : {"mode", "neighbours"}, default="mode"
        Where the conditional mean's chains start (see Mode or mean above):
        all at the conditional mode, or each at one of the row's nearest
        completed training rows (``training_fill_``, kept at fit with this
        setting only). Read at transform time, except that "neighbours"
        needs the training fill kept at fit.
    sample_posterior : bool, default=False
        ``transform`` returns one MALA draw (seeded by ``random_state``)
        instead of the conditional mode.
    n_mcmc_steps : int, default=200
        MALA steps per draw and per conditional-mean chain (half of them
        tune the step size).
    missing_values : float or int, default=np.nan
        The placeholder for missing values.
    add_indicator : bool, default=False
        Append :class:`~sklearn.impute.MissingIndicator` columns.
    keep_empty_features : bool, default=False
        Keep columns with no observed value at fit time (filled with 0).
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Torch device of the density (overrides ``density.device``).
    dtype : {"float64", "float32"}, default="float64"
        Precision of the density and of the conditional inference (overrides
        ``density.dtype``); float32 is several times faster on the CPU.
    inference_batch_size : int, default=4096
        Rows imputed at once by ``transform`` (and scored at once by
        ``score_samples``): working memory beyond the input and the output
        grows with it, not with the number of rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the density, the initial imputer and the draws.
    verbose : int, default=0
        Passed to the density.

    Attributes
    ----------
    densities_ : list of estimator
        The fitted flow densities (of the transformed, standardized
        columns): ``ensemble_size`` of them, times the length of a
        ``density`` list, the kinds of a list alternating.
    marginal_ : PowerTransformer or None
        The fitted Yeo-Johnson transform (None with "standard").
    initial_imputer_ : IterativeImputer or None
    missingness_coef_, missingness_intercept_ : ndarray of shape (n_modelled_features,) or None
        With ``missing_mechanism="self-masking"``, ``a_j`` and ``c_j`` of
        each column's logistic missingness model (flow input space; 0 for a
        column without gaps at fit); None otherwise.
    gap_noise_std_ : ndarray of shape (n_modelled_features,)
        Standard deviation of the noise given to each column's imputed
        training entries (flow input space; ``gap_noise`` times the initial
        fill's error; zeros with ``gap_noise=0``).
    em_history_ : list of float
        RMS change of the training imputations in each EM round.
    gradient_steps_ : ndarray of int of shape (n_modelled_features,) or None
        With ``n_gradient_steps="auto"``, the steps of the conditional-mode
        search chosen for each modelled column; None otherwise (an integer
        ``n_gradient_steps`` is read at transform time, so it can be
        changed after fit).
    mean_weight_ : float or None
        With ``point_estimate="auto"``, the weight of the conditional mean
        against the mode chosen at fit; None otherwise.
    training_fill_ : ndarray of shape (n_samples_fit, n_modelled_features) or None
        With ``mean_chain_start="neighbours"``, the training rows as the
        last EM round completed them (flow input space): the starts of the
        conditional mean's chains. None otherwise.
    mean_, scale_, data_min_, data_max_, empty_features_, modelled_features_,
    device_, n_features_in_, feature_names_in_
        As in :class:`~flowimpute.VFGImputer`.

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

    def __init__(
        self,
        density=None,
        ensemble_size: int = 1,
        dequantize: bool = True,
        marginal: str = "standard",
        missing_mechanism: str = "mar",
        initial_strategy: str = "iterative",
        max_em_iter: int = 5,
        em_epochs: int = 10,
        em_tol: float = 1e-3,
        gap_noise: float = 0.5,
        em_gradient_steps: int = 25,
        n_gradient_steps: int | str = "auto",
        gradient_step_size: float = 0.05,
        point_estimate: str = "mode",
        n_mean_chains: int = 6,
        mean_chain_start: str = "mode",
        sample_posterior: bool = False,
        n_mcmc_steps: int = 200,
        missing_values=np.nan,
        add_indicator: bool = False,
        keep_empty_features: bool = False,
        device: str = "auto",
        dtype: str = "float64",
        inference_batch_size: int = 4096,
        random_state=None,
        verbose: int = 0,
    ) -> None:
        self.density = density
        self.ensemble_size = ensemble_size
        self.dequantize = dequantize
        self.marginal = marginal
        self.missing_mechanism = missing_mechanism
        self.initial_strategy = initial_strategy
        self.max_em_iter = max_em_iter
        self.em_epochs = em_epochs
        self.em_tol = em_tol
        self.gap_noise = gap_noise
        self.em_gradient_steps = em_gradient_steps
        self.n_gradient_steps = n_gradient_steps
        self.gradient_step_size = gradient_step_size
        self.point_estimate = point_estimate
        self.n_mean_chains = n_mean_chains
        self.mean_chain_start = mean_chain_start
        self.sample_posterior = sample_posterior
        self.n_mcmc_steps = n_mcmc_steps
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features
        self.device = device
        self.dtype = dtype
        self.inference_batch_size = inference_batch_size
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------ marginals
    def _to_latent(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Standardized columns -> the flow's input space (missing entries: NaN).

        Observed values beyond the training range are clipped to it: they
        condition the imputation as the nearest value the flow has seen (a
        flow's density far outside its data is meaningless, and its gradient
        may not be finite there). The output keeps the observed values.
        """
        X = np.where(observed, X_scaled, np.nan)
        if self.marginal_ is not None:
            X = self.marginal_.transform(X)
        return np.clip(X, self._latent_low_, self._latent_high_)

    def _from_latent(self, Z: np.ndarray) -> np.ndarray:
        if self.marginal_ is None:
            return Z
        # Yeo-Johnson's inverse is defined on the image of the real line only;
        # keep Z inside the image of the training range first.
        return self.marginal_.inverse_transform(np.clip(Z, self._latent_low_, self._latent_high_))

    def _initial_fill(self, Z: np.ndarray) -> np.ndarray:
        if self.initial_imputer_ is None:
            return np.where(np.isnan(Z), self._latent_mean_, Z)
        return self.initial_imputer_.transform(Z)

    # ------------------------------------------------------------------ fit
    def _fit_model(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int) -> None:
        rng = np.random.RandomState(seed)
        self.marginal_ = None
        if self.marginal == "yeo-johnson":
            self.marginal_ = PowerTransformer(method="yeo-johnson", standardize=True).fit(
                np.where(observed, X_scaled, np.nan))
        low = (self.data_min_ - self.mean_) / self.scale_
        high = (self.data_max_ - self.mean_) / self.scale_
        if self.missing_mechanism == "self-masking":
            width = (high - low) * (~observed).any(axis=0)
            low, high = low - width, high + width
        self._range_low_, self._range_high_ = low, high
        self._latent_low_ = low if self.marginal_ is None else self.marginal_.transform(
            low[None])[0]
        self._latent_high_ = high if self.marginal_ is None else self.marginal_.transform(
            high[None])[0]
        Z = self._to_latent(X_scaled, observed)
        self._latent_mean_ = np.nanmean(Z, axis=0)   # NaN-free: no column is empty
        self.initial_imputer_ = None
        if self.initial_strategy == "iterative" and Z.shape[1] > 1:
            self.initial_imputer_ = IterativeImputer(
                max_iter=10, random_state=int(rng.randint(2**31)),
                keep_empty_features=True).fit(_with_gaps_in_every_column(Z, rng))
        filled = self._initial_fill(Z)

        settings = {"device": self.device, "dtype": self.dtype, "verbose": self.verbose}
        if self.dequantize:
            settings["dequantization"] = self._latent_lattice_widths(X_scaled, observed)
        gaps = np.isnan(Z)
        self.gap_noise_std_ = np.zeros(Z.shape[1])
        if self.gap_noise > 0 and gaps.any():
            self.gap_noise_std_ = self.gap_noise * self._initial_fill_error(
                X_scaled, observed, rng)

        def with_gap_noise(fill: np.ndarray) -> np.ndarray:
            if not self.gap_noise_std_.any():
                return fill
            return fill + gaps * self.gap_noise_std_ * rng.standard_normal(fill.shape)

        templates = self._density_templates()
        self.densities_ = []
        for _ in range(self.ensemble_size):
            for template in templates:
                density = clone(template).set_params(random_state=int(rng.randint(2**31)),
                                                     **settings)
                self.densities_.append(density.fit(with_gap_noise(filled)))
        self.device_ = self.densities_[0].device_
        self.dtype_ = self.densities_[0].dtype_
        self.em_history_ = []
        self._fit_missingness(filled, gaps)
        for _ in range(self.max_em_iter if gaps.any() else 0):
            refilled = self._conditional_mode(filled, ~gaps, self.em_gradient_steps)
            change = float(np.sqrt(np.mean((refilled[gaps] - filled[gaps]) ** 2)))
            self.em_history_.append(change)
            filled = refilled
            for density in self.densities_:
                density._train_more(with_gap_noise(filled), self.em_epochs,
                                    int(rng.randint(2**31)))
            self._fit_missingness(filled, gaps)
            if change < self.em_tol:
                break
        self.training_fill_ = filled if self.mean_chain_start == "neighbours" else None
        self.gradient_steps_ = (self._select_gradient_steps(X_scaled, observed, rng)
                                if self.n_gradient_steps == "auto" else None)
        self._mean_seed_ = int(rng.randint(2**31))
        self.mean_weight_ = (self._select_mean_weight(X_scaled, observed, rng)
                             if self.point_estimate == "auto" else None)

    def _initial_fill_error(self, X_scaled: np.ndarray, observed: np.ndarray,
                            rng: np.random.RandomState) -> np.ndarray:
        """Per column, the RMS error (flow input space) of the initial fill
        on observed training entries hidden at random; a column without
        hidden entries takes the RMS error of all columns together, and
        with nothing hidden every column gets 0."""
        held = hide_observed_entries(X_scaled, observed, rng)
        if not held.hidden.any():
            return np.zeros(X_scaled.shape[1])
        start = self._initial_fill(self._to_latent(held.truth, held.kept))
        truth = self._to_latent(held.truth, np.ones_like(held.kept))
        errors = squared_errors(start, truth, held.hidden)
        counts = held.hidden.sum(axis=0)
        per_column = np.where(counts > 0, errors / np.maximum(counts, 1),
                              errors.sum() / counts.sum())
        return np.sqrt(per_column)

    def _latent_lattice_widths(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The flow-input-space width of each discrete column's grid cell (0
        for a continuous column), from its observed entries: the grid step,
        and with a Yeo-Johnson marginal the median width of the steps'
        images."""
        X_observed = np.where(observed, X_scaled, np.nan)
        steps = lattice_steps(X_observed)
        if self.marginal_ is None or not steps.any():
            return steps
        upper = self.marginal_.transform(X_observed + steps / 2)
        lower = self.marginal_.transform(X_observed - steps / 2)
        return np.nan_to_num(np.nanmedian(upper - lower, axis=0)) * (steps > 0)

    def _density_templates(self) -> list:
        """The densities of one ensemble round: ``density`` as a list."""
        if self.density is None:
            return [NAFDensity(n_flows=3, hidden_dims=(64, 64), max_epochs=100)]
        single = not isinstance(self.density, list | tuple)
        templates = [self.density] if single else list(self.density)
        if not templates:
            raise ValueError("density is an empty list: give at least one flow density.")
        # The imputer sets the flows' device, trains them on, and follows the
        # gradient of their log-density: other density estimators cannot serve.
        for template in templates:
            if not isinstance(template, FlowDensityMixin):
                what = "density" if single else "every element of the density list"
                raise TypeError(f"{what} must be a flowimpute flow density (NAFDensity, "
                                f"CouplingFlowDensity); got {type(template).__name__}.")
        return templates

    def _fit_missingness(self, filled: np.ndarray, gaps: np.ndarray) -> None:
        """With self-masking, fit each column's logistic model of its gaps
        given its own (completed) values; sets ``missingness_coef_`` and
        ``missingness_intercept_`` (None under "mar")."""
        if self.missing_mechanism != "self-masking":
            self.missingness_coef_ = self.missingness_intercept_ = None
            return
        coef, intercept = np.zeros(filled.shape[1]), np.zeros(filled.shape[1])
        for column in np.flatnonzero(gaps.any(axis=0) & (~gaps).any(axis=0)):
            model = LogisticRegression(C=1.0).fit(filled[:, [column]], gaps[:, column])
            coef[column], intercept[column] = model.coef_[0, 0], model.intercept_[0]
        self.missingness_coef_, self.missingness_intercept_ = coef, intercept

    def _imputation_range(self) -> tuple[np.ndarray, np.ndarray]:
        if self.missingness_coef_ is None:
            return super()._imputation_range()
        return self._unstandardize(self._range_low_), self._unstandardize(self._range_high_)

    # ------------------------------------------------------------ inference
    def _log_target(self, Z: Tensor, gaps: Tensor, density: FlowDensityMixin) -> Tensor:
        """Per-row ``log p(z)`` under one of the fitted ``density`` (its own
        standardization applied; the constant Jacobian does not matter),
        plus with self-masking the log-probability that the ``gaps`` entries
        went missing given their values (the terms of the observed entries
        do not depend on the imputations)."""
        mean, scale = density._to_tensor(density.mean_), density._to_tensor(density.scale_)
        log_p = density.module_.log_prob((Z - mean) / scale)
        if self.missingness_coef_ is None:
            return log_p
        logits = Z * self._to_tensor(self.missingness_coef_) + self._to_tensor(
            self.missingness_intercept_)
        return log_p + (logsigmoid(logits) * gaps).sum(1)

    def _bounds(self) -> tuple[Tensor, Tensor]:
        return self._to_tensor(self._latent_low_), self._to_tensor(self._latent_high_)

    def _mode_search(self, z: Tensor, missing: Tensor, n_steps: int, gaps: Tensor,
                     densities: list | None = None):
        """Adam on ``-log`` :meth:`_log_target` over the ``missing`` entries
        of ``z``, within the training range, for every density of the
        ensemble (or of ``densities``) side by side; yields ``(step,
        current)`` after every step, ``current`` the mean of the densities'
        searches. ``gaps``: the entries that went missing in the data (they
        differ from ``missing`` where observed entries are hidden to choose
        the step counts)."""
        low, high = self._bounds()
        searches = [
            projected_adam(z, missing, lambda x, d=density: -self._log_target(x, gaps, d),
                           low, high, self.gradient_step_size, n_steps)
            for density in (self.densities_ if densities is None else densities)]
        for states in zip(*searches, strict=True):
            yield states[0][0], torch.stack([current for _, current in states]).mean(0)

    def _conditional_mode(self, start: np.ndarray, observed: np.ndarray,
                          n_steps: int | None = None,
                          densities: list | None = None) -> np.ndarray:
        """Search towards the conditional mode, chunk by chunk: ``n_steps``
        Adam steps, or by default each column's ``gradient_steps_`` (a
        column stops moving at its own step count while the search goes on
        for the others); under the whole ensemble, or only ``densities``."""
        steps = self._steps_per_column(start.shape[1]) if n_steps is None \
            else np.full(start.shape[1], n_steps)
        out = start.copy()
        rows = np.flatnonzero((~observed).any(axis=1))
        if steps.max() == 0 or rows.size == 0:
            return out
        stops = {int(count): torch.as_tensor(steps == count, device=self.device_)
                 for count in np.unique(steps) if count > 0}
        for block in self._row_chunks(rows.size):
            chunk = rows[block]
            z = self._to_tensor(start[chunk])
            missing = torch.as_tensor(~observed[chunk], device=self.device_)
            result = z
            for step, current in self._mode_search(z, missing, int(steps.max()), missing,
                                                   densities):
                if step in stops:
                    result = torch.where(stops[step], current, result)
            # A row whose search left the finite numbers keeps its starting fill.
            finite = torch.isfinite(result).all(dim=1, keepdim=True)
            out[chunk] = torch.where(finite, result, z).cpu().numpy()
        return out

    def _mode(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The transform's conditional mode (flow input space): the search
        from the initial fill of the missing entries."""
        return self._conditional_mode(
            self._initial_fill(self._to_latent(X_scaled, observed)), observed)

    def _steps_per_column(self, n_columns: int) -> np.ndarray:
        """The transform's step counts: ``n_gradient_steps`` as set now (it
        may be changed after fit), or the per-column choice made at fit."""
        if self.n_gradient_steps != "auto":
            return np.full(n_columns, self.n_gradient_steps)
        if self.gradient_steps_ is None:
            raise ValueError('n_gradient_steps="auto" chooses the step counts during fit; '
                             "this imputer was fitted with a fixed count: refit it.")
        if self.missingness_coef_ is None:
            return self.gradient_steps_
        # Hidden observed entries cannot show what the mechanism term does.
        return np.where(self.missingness_coef_ != 0, max(GRADIENT_STEP_CANDIDATES),
                        self.gradient_steps_)

    def _select_gradient_steps(self, X_scaled: np.ndarray, observed: np.ndarray,
                               rng: np.random.RandomState) -> np.ndarray:
        """Per column, the step count of the mode search (among
        :data:`GRADIENT_STEP_CANDIDATES`) that best recovers hidden training
        entries (:mod:`flowimpute.inference.selection`; standardized scale). The
        rows were seen in training, so the errors are in-sample."""
        held = hide_observed_entries(X_scaled, observed, rng)
        start = self._initial_fill(self._to_latent(held.truth, held.kept))
        errors = np.zeros((len(GRADIENT_STEP_CANDIDATES), held.truth.shape[1]))

        errors[0] = squared_errors(self._from_latent(start), held.truth, held.hidden)
        stops = {count: index for index, count in enumerate(GRADIENT_STEP_CANDIDATES)}
        search = self._mode_search(self._to_tensor(start),
                                   torch.as_tensor(~held.kept, device=self.device_),
                                   max(GRADIENT_STEP_CANDIDATES),
                                   torch.as_tensor(~observed[held.rows], device=self.device_))
        for step, current in search:
            if step in stops:
                errors[stops[step]] = squared_errors(self._from_latent(current.cpu().numpy()),
                                                     held.truth, held.hidden)
        return best_count_per_column(errors, held.hidden, GRADIENT_STEP_CANDIDATES)

    def _langevin(self, start: np.ndarray, observed: np.ndarray, seed: int, member: int,
                  average: bool = False) -> np.ndarray:
        """MALA chains (:mod:`flowimpute.inference.mcmc`) on the missing entries of
        every row, started at ``start``, under the ensemble's density number
        ``member``: one draw per row (independent noise), or with
        ``average`` each chain's mean after its tuning half (noise shared by
        the rows, so a row's estimate does not depend on the other rows)."""
        density = self.densities_[member]
        out = start.copy()
        rows = np.flatnonzero((~observed).any(axis=1))
        low, high = self._bounds()
        make_noise = shared_noise if average else independent_noise
        generator = None
        for block in self._row_chunks(rows.size):
            if generator is None or average:   # averaging chunks replay the same noise
                generator = make_generator(seed, self.device_)
            chunk = rows[block]
            missing = torch.as_tensor(~observed[chunk], device=self.device_)

            def log_target(z: Tensor, missing: Tensor = missing) -> tuple[Tensor, Tensor]:
                z = z.detach().requires_grad_(True)
                with torch.enable_grad():
                    log_p = self._log_target(z, missing, density)
                    (gradient,) = torch.autograd.grad(log_p.sum(), z)
                return log_p.detach(), gradient

            state = mala(self._to_tensor(start[chunk]), missing, log_target, low, high,
                         self.n_mcmc_steps, make_noise(generator, self.dtype_, self.device_),
                         average=average)
            out[chunk] = state.cpu().numpy()
        return out

    def _conditional_mean(self, mode: np.ndarray, observed: np.ndarray,
                          own_rows: np.ndarray | None = None) -> np.ndarray:
        """The conditional mean of the missing entries (standardized scale):
        the average of ``n_mean_chains`` MALA chains' post-tuning states,
        chain ``i`` under density ``i % len(densities_)`` and started as
        :meth:`_chain_start` says; averaged after mapping back through the
        marginal transform. ``own_rows``: the training row of each row, or
        None (see :meth:`_chain_donors`). Deterministic and row-independent."""
        donors = self._chain_donors(mode, observed, own_rows)
        return np.mean([
            self._from_latent(self._langevin(
                self._chain_start(index, mode, observed, donors), observed,
                self._mean_seed_ + index, index % len(self.densities_), average=True))
            for index in range(self.n_mean_chains)], axis=0)

    def _chain_donors(self, mode: np.ndarray, observed: np.ndarray,
                      own_rows: np.ndarray | None) -> np.ndarray | None:
        """With ``mean_chain_start="neighbours"``, the training rows nearest
        to each row on its observed entries (flow input space), nearest
        first, ``own_rows`` (a row's own index in the training table, when
        it is a training row whose hidden entries are being recovered)
        excluded; None with "mode"."""
        if self.mean_chain_start == "mode":
            return None
        if self.training_fill_ is None:
            raise ValueError('mean_chain_start="neighbours" needs the completed training '
                             'table, kept at fit with that setting only; this imputer was '
                             'fitted with "mode": refit it.')
        candidates = self.training_fill_.shape[0] - (own_rows is not None)
        return nearest_rows(mode, observed, self.training_fill_,
                            min(self.n_mean_chains, candidates), own_rows)

    def _chain_start(self, index: int, mode: np.ndarray, observed: np.ndarray,
                     donors: np.ndarray | None) -> np.ndarray:
        """Start of conditional-mean chain ``index``: the conditional
        ``mode``, or the completed values of the row's ``index``-th nearest
        training row (``donors``, cycled) in its missing entries, moved by
        :data:`CHAIN_START_STEPS` Adam steps on the chain's density."""
        if donors is None:
            return mode
        start = np.where(observed, mode,
                         self.training_fill_[donors[:, index % donors.shape[1]]])
        member = self.densities_[index % len(self.densities_)]
        return self._conditional_mode(start, observed, CHAIN_START_STEPS, [member])

    def _point_estimate(self, mode: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The point imputation from the conditional ``mode`` (flow input
        space): the mode, the conditional mean, or their blend (standardized
        scale)."""
        weight = self._mean_weight()
        estimate = self._from_latent(mode)
        if weight == 0:
            return estimate
        return (1 - weight) * estimate + weight * self._conditional_mean(mode, observed)

    def _mean_weight(self) -> float:
        """Weight of the conditional mean in the point imputation:
        ``point_estimate`` as set now, or the choice made at fit."""
        if self.point_estimate != "auto":
            return float(self.point_estimate == "mean")
        if self.mean_weight_ is None:
            raise ValueError('point_estimate="auto" chooses the weight of the conditional mean '
                             'during fit; this imputer was fitted with "mode" or "mean": '
                             "refit it.")
        return self.mean_weight_

    def _select_mean_weight(self, X_scaled: np.ndarray, observed: np.ndarray,
                            rng: np.random.RandomState) -> float:
        """The weight of the conditional mean against the mode (among
        :data:`MEAN_WEIGHT_CANDIDATES`) whose blend best recovers hidden
        training entries, all columns together (standardized scale; a fresh
        set of hidden entries, the step counts already chosen). With the
        self-masking mechanism the mode is kept: hidden observed entries
        cannot show what the mechanism term does."""
        if self.missingness_coef_ is not None:
            return 0.0
        entries_per_row = max(float(observed.sum(axis=1).mean()), 1.0)
        held = hide_observed_entries(
            X_scaled, observed, rng,
            min(SELECTION_ROWS, int(np.ceil(MEAN_WEIGHT_ENTRIES / entries_per_row))))
        if not held.hidden.any():
            return 0.0
        mode = self._mode(held.truth, held.kept)
        mode_estimate = self._from_latent(mode)
        mean_estimate = self._conditional_mean(mode, held.kept, held.rows)
        errors = [squared_errors((1 - weight) * mode_estimate + weight * mean_estimate,
                                 held.truth, held.hidden).sum()
                  for weight in MEAN_WEIGHT_CANDIDATES]
        return MEAN_WEIGHT_CANDIDATES[int(np.argmin(errors))]

    def _impute(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The point imputation, or with ``sample_posterior`` one MALA draw."""
        mode = self._mode(X_scaled, observed)
        if not self.sample_posterior:
            return self._point_estimate(mode, observed)
        seed = draw_seed(self.random_state)
        return self._from_latent(self._langevin(mode, observed, seed,
                                                seed % len(self.densities_)))

    def sample_imputations(self, X, n_imputations: int = 5, random_state=None) -> np.ndarray:
        """Draw several completions of ``X`` from ``p(x_mis | x_obs)`` (MALA).

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
        X, observed = self._validate_draw_request(X, n_imputations)
        rng = check_random_state(random_state)
        seeds = [int(rng.randint(2**31)) for _ in range(n_imputations)]

        def draw_estimates(X_scaled: np.ndarray, modelled: np.ndarray,
                           rows: slice) -> list[np.ndarray]:
            mode = self._mode(X_scaled, modelled)  # shared start
            return [self._from_latent(self._langevin(mode, modelled, seed,
                                                 index % len(self.densities_)))
                    for index, seed in enumerate(seeds)]

        return self._complete_draws(X, observed, n_imputations, draw_estimates)


def _with_gaps_in_every_column(Z: np.ndarray, rng: np.random.RandomState,
                               fraction: float = 0.2) -> np.ndarray:
    """Copy of ``Z`` in which every column without a gap loses a random
    ``fraction`` of its entries (at least one). IterativeImputer learns a
    model only for the columns that had gaps during fit and fills the others
    with their mean at transform; hiding some entries gives every column a
    regression model, so a column complete at fit but missing at transform
    starts from a prediction, not from its mean."""
    Z = Z.copy()
    for column in np.flatnonzero(~np.isnan(Z).any(axis=0)):
        n_hidden = max(1, int(fraction * Z.shape[0]))
        Z[rng.choice(Z.shape[0], n_hidden, replace=False), column] = np.nan
    return Z

