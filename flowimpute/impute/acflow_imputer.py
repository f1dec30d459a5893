"""ACFlowImputer: one flow of every conditional p(x_missing | x_observed), used in one pass."""

from __future__ import annotations

from dataclasses import replace
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from scipy.special import softmax
from sklearn.utils._param_validation import Interval, StrOptions
from torch import Tensor, nn

from .._base import (
    MeanLogLikelihoodMixin,
    check_hidden_dims,
    draw_seed,
    make_generator,
    seeded_torch,
)
from .._training import TrainingConfig, make_optimizer, run_epoch, train
from ..flows.arbitrary_conditional import ArbitraryConditionalFlow
from ..flows.categorical_head import CategoricalHead
from ..flows.mixture_context import MixtureConditionalMean
from ..flows.regression_head import ConditionalMeanRegressor
from ..inference.missingness import TILT_FIT_DRAWS, fit_tilted_self_masking
from ..nn.encoding import PiecewiseLinearEncoding
from ..nn.mlp import ACTIVATIONS
from ..preprocessing.codec import ColumnCodec
from ..preprocessing.table import BOOLEAN, CATEGORICAL
from ..transforms.monotone import AffineTransformer, RationalQuadraticSpline
from ._base import BaseFlowImputer

#: Share of training rows whose targets are a random part of the entries
#: left after the conditioning draw, so that splits with absent coordinates
#: (``score_samples`` of incomplete rows) are trained too.
PARTIAL_TARGET_ROWS = 0.25
#: Splits of each training batch the categorical head learns from (it is far
#: cheaper than the flow, and learns slowly from one): the flow's, then
#: splits that condition on at least :data:`HEAD_LOWEST_RATE` of a row's
#: columns on average, as an imputation does.
HEAD_SPLITS = 8
HEAD_LOWEST_RATE = 0.5
#: Share of the rows the categorical head holds out for its early stopping
#: at least (a classifier trained to its training loss overfits; the flow
#: trains on every row by default).
HEAD_VALIDATION_FRACTION = 0.1
#: The categorical head encodes the regressor's estimates of the numbers
#: that are not conditioning values on tables of more training rows than
#: this; on fewer, the regressor's fit of the training values is much
#: closer than its estimates of gaps, and the head learns to trust
#: estimates that the gaps will not match (user guide, mixed tables, "The
#: head's numbers").
HEAD_ESTIMATES_FROM_ROWS = 2000
#: Random splits of each training batch the conditional-mean regressor
#: learns from (a small MLP, which learns slowly from one), and its hidden
#: widths for at most :data:`WIDE_FROM_ROWS` training rows, whatever the
#: flow's (wider than the flow's (64, 64) on small tables, where the
#: regressor gained from it); beyond, :data:`WIDE_HIDDEN_DIMS`, as the
#: flow's "auto", so that a large table's regressor is not the narrower of
#: the two estimates it is blended with.
REGRESSION_SPLITS = 4
REGRESSION_HIDDEN_DIMS = (128, 128)
#: ``missing_mechanism="self-masking"``: rows (at most) a column's
#: missingness model is fitted on, and draws among which each of
#: ``sample_imputations``' draws is picked by its weight.
SELF_MASKING_ROWS = 4000
RESAMPLING_DRAWS = 16
#: ``hidden_dims="auto"``: the widths for at most :data:`WIDE_FROM_ROWS`
#: training rows, and beyond.
NARROW_HIDDEN_DIMS = (64, 64)
WIDE_HIDDEN_DIMS = (256, 256)
WIDE_FROM_ROWS = 10_000
#: ``n_mixture_components="auto"``: the mixture's components, and the most
#: training rows the regressor reads a mixture with. It stands in for rows
#: the networks lack, and its cost per epoch grows with the rows, so beyond
#: them "auto" reads none (an int reads one at any number of rows).
AUTO_MIXTURE_COMPONENTS = 10
MIXTURE_MAX_ROWS = 2000
#: The most continuous coordinates the regressor reads a mixture over,
#: whatever ``n_mixture_components`` says: the mixture's cost grows with
#: their cube.
MIXTURE_MAX_COORDINATES = 64
#: ``point_masses``: the share of a continuous column's observed entries one
#: value must hold to be modelled as a point mass.
POINT_MASS_SHARE = 0.1


def find_point_masses(values: np.ndarray, observed: np.ndarray, candidates: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The ``candidates`` coordinates one of whose values holds at least
    :data:`POINT_MASS_SHARE` of the observed entries while others remain,
    and that value of each."""
    coordinates, masses = [], []
    for coordinate in np.asarray(candidates, dtype=int):
        levels, counts = np.unique(values[observed[:, coordinate], coordinate],
                                   return_counts=True)
        if levels.size < 2 or counts.max() < POINT_MASS_SHARE * counts.sum():
            continue
        coordinates.append(coordinate)
        masses.append(levels[counts.argmax()])
    return np.array(coordinates, dtype=int), np.array(masses, dtype=float)


def random_split(observed: Tensor, generator: torch.Generator,
                 columns: Tensor | None = None, lowest_rate: float = 0.0
                 ) -> tuple[Tensor, Tensor]:
    """Conditioning and target masks of a batch: each row draws a rate
    ``r ~ U(0, 1)`` and conditions on each observed column with probability
    ``r``; the other observed entries are its targets (in
    :data:`PARTIAL_TARGET_ROWS` of the rows, a random part of them). Missing
    entries are neither. With ``lowest_rate``, ``r ~ U(lowest_rate, 1)``.
    ``columns`` gives the column of each coordinate
    (a category's indicators share theirs, so that they are conditioning or
    target together, as when the category is missing); by default each
    coordinate is a column."""
    n_rows, n_coordinates = observed.shape
    if columns is None:
        columns = torch.arange(n_coordinates, device=observed.device)
    n_columns = int(columns.max()) + 1

    def uniform(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=generator).to(observed.device)

    column_draws = uniform(n_rows, n_columns)
    rate = lowest_rate + (1 - lowest_rate) * uniform(n_rows, 1)
    conditioning = observed & (column_draws < rate)[:, columns]
    target = observed & ~conditioning
    partial = uniform(n_rows, 1) < PARTIAL_TARGET_ROWS
    left_out = partial & (uniform(n_rows, n_columns) > uniform(n_rows, 1))[:, columns]
    return conditioning, target & ~left_out


class ACFlowImputer(MeanLogLikelihoodMixin, BaseFlowImputer):
    """Impute from one flow of every conditional ``p(x_missing | x_observed)``.

    An arbitrary-conditional flow (after ACFlow, Li, Akbar and Oliva, 2020)
    learns ``p(x_t | x_c)`` for any split of a row into conditioning entries
    ``c`` and target entries ``t``: coupling layers over the targets, whose
    conditioners read the conditioning values and the split's masks, map the
    targets onto a Gaussian mixture whose weights, means and scales also
    follow the conditioning values. It is fitted on the incomplete table
    directly: in every batch each row's observed entries are split at random
    into conditioning and targets, and ``log p(targets | conditioning)`` is
    maximized; missing entries are never filled nor scored. Imputing is then
    a single batched pass: the flow's conditional mean is the average of
    ``n_draws`` exact draws (stratified over the mixture and antithetic, from
    randomness fixed at fit, so the imputation is deterministic and each row
    independent of the others), averaged by default with the prediction of a
    regressor of the same conditional mean trained to squared error
    (``point_estimate``); :meth:`sample_imputations` draws exactly from
    the conditional; :meth:`score_samples` gives the log-likelihood of each
    row's observed entries, a marginal density. The user guide's "Which
    estimator when" compares it with the other imputers.

    A table's categorical and boolean columns are modelled as choices: a
    softmax head (:class:`~flowimpute.flows.categorical_head.CategoricalHead`)
    gives each target category's probabilities given the conditioning
    entries, and the flow the numeric targets given the conditioning
    entries. A missing category is imputed as its most probable one and a
    missing number as its conditional mean given the observed entries;
    draws take the categories one column after another, then the numbers
    given the observed entries and the drawn categories. The head is trained
    after the flow and stops on held-out rows: ``validation_fraction`` of
    them, and at least a tenth (:data:`HEAD_VALIDATION_FRACTION`), since a
    classifier trained to its training loss overfits. A table too small to
    hold out 50 rows trains the head for ``max_epochs`` epochs instead, as
    the regressor is trained: the training loss over random splits is too
    noisy to stop on.

    Parameters
    ----------
    n_layers : int, default=4
        Coupling layers (partitions alternate between random halves of the
        columns and their complements).
    hidden_dims : tuple of int or "auto", default="auto"
        Hidden widths of every conditioner and of the mixture's network.
        "auto": (64, 64) for up to 10,000 rows (those given to ``fit``, or
        to the first ``partial_fit``), (256, 256) for more: the conditionals
        of a large table have the rows to fill a wider network, where on a
        small one it gains nothing and costs time. Inference costs grow with
        the width: give (64, 64) for the fastest imputation of a large table.
    activation : {{"relu", "tanh", "silu", "elu"}}, default="relu"
    transformer : {{"affine", "spline"}}, default="affine"
        The element-wise map of each coupling: affine (its bounded log-scale
        and shift extrapolate to conditioning values beyond the training
        range), or a rational-quadratic spline of ``n_bins`` pieces on
        ``[-5, 5]`` (standardized units; more flexible, for tables of
        discrete or multimodal columns).
    n_bins : int, default=8
        Pieces of each spline (``transformer="spline"`` only).
    n_components : int, default=8
        Gaussians of the conditional mixture base.
    n_draws : int, default=6
        Draws averaged for the flow's conditional mean (rounded up to an
        even number: they come in antithetic pairs). The cost of
        ``transform`` grows nearly in proportion; more draws lower the Monte
        Carlo error of the mean, which at 6 is already small beside the
        model's (and halved again in the blend).
    point_estimate : {{"blend", "mean", "regression"}}, default="blend"
        What ``transform`` puts in a missing number. "mean": the flow's
        conditional mean (the average of the ``n_draws`` draws).
        "regression": the prediction of a
        :class:`~flowimpute.flows.regression_head.ConditionalMeanRegressor`,
        an MLP of the same context (hidden widths (128, 128), (256, 256)
        beyond 10,000 rows) trained after
        the flow for ``max_epochs`` epochs, on the same kind of random
        splits, to the squared error of the target entries: the same
        conditional mean by a second route. "blend": the average of
        the two, which has the lower error of the three on the benchmark
        tables (user guide, "Measured choices"). Draws, scores and
        categories come from the flow and its head whatever this says.
        Under ``missing_mechanism="self-masking"`` the flow's mean is the
        weighted mean of its draws, and "blend" adds to it half of the
        regressor's difference from the unweighted mean ("regression" is
        refused: the regressor cannot be weighted).
    n_mixture_components : int or "auto", default="auto"
        The regressor also reads, for each split, the exact conditional
        mean of a Gaussian mixture of this many full-covariance components
        over the continuous numeric columns (each through a Yeo-Johnson
        transform), fitted by EM on the incomplete training rows
        (:class:`~flowimpute.flows.mixture_context.MixtureConditionalMean`):
        a closed form of every conditional that the networks would
        otherwise learn from random splits alone, which on a few hundred
        rows they learn poorly. "auto": 10 components on tables of up to
        2,000 training rows, none on larger ones, where the networks have
        more rows to learn from and the mixture's cost grows with the rows:
        a factorization per row, component and split in every epoch, and
        one per row and component in ``transform``. An int reads that many
        at any number of rows: on large tables it can still lower the
        error, at a longer fit and a lower ``transform`` throughput (user
        guide, "Where it stands"). 0 reads none; neither
        do tables of more than 64 continuous columns (its cost grows with
        their cube), nor ``point_estimate="mean"`` (no regressor).
    sample_posterior : bool, default=False
        ``transform`` returns one exact draw (seeded by ``random_state``)
        instead of the conditional mean.
    dequantize : bool, default=True
        Train on uniform noise over the grid cell of every discrete numeric
        column (at most 64 evenly spaced values), so the flow learns a
        smooth density across cells instead of spikes at the values.
    averaging_epochs : float or None, default=10.0
        The fitted networks keep an exponential moving average of their
        weights over the training steps, with a time constant of this many
        epochs (Polyak averaging; at the best epoch when training stops
        early), which evens out the noise of the last minibatch steps.
        None keeps the weights of the last step. :meth:`partial_fit` trains
        the weights it is given, without averaging.
    n_score_splits : int, default=32
        :meth:`score_samples` scores a row's observed entries under the
        mixture of the flow's direct pass and this many two-block
        factorizations ``p(x_a) p(x_b | x_a)`` of them (the flow's
        factorizations disagree a little, and their mixture is a better
        density than any one of them; user guide, "Measured choices"). The
        blocks are drawn like the training splits from a stream fixed at
        fit, the first ``k`` the same whatever the number. 0 scores the
        direct pass alone, at ``1 / (2 * n_score_splits + 1)`` of the cost.
    missing_mechanism : {{"mar", "self-masking"}}, default="mar"
        "mar": missingness ignorable (MCAR or MAR), imputations follow
        ``p(x_mis | x_obs)``. "self-masking": a value's own size decides
        whether it goes missing (censored sensors, incomes left blank above
        a threshold), each numeric column by a logistic model
        ``P(m_j = 1 | x_j) = sigmoid(a_j x_j + c_j)``; imputations follow
        ``p(x_mis | x_obs, m)``. The flow, trained on observed values,
        learns the conditionals of values *that were observed*; the
        missing ones then follow them tilted by the odds of going missing,
        ``exp(a_j x_j)``, so the draws are weighted by it (the mean) or
        resampled by it (``sample_imputations``, among
        :data:`RESAMPLING_DRAWS` draws each). ``(a_j, c_j)`` are fitted
        after the flow by the likelihood of the column's gaps given the
        other entries
        (:func:`~flowimpute.inference.missingness.fit_tilted_self_masking`).
        The correction reaches as far as the flow's conditionals spread: a
        value far beyond every observed one stays out of reach. Imputed
        values of columns with gaps may go beyond the observed range by at
        most its width on either side. It is an assumption: under MCAR or
        MAR the models can pick up slopes that move the imputations
        wrongly (user guide).
    point_masses : bool, default=True
        Model a value that holds at least a tenth of a continuous column's
        observed entries (:data:`POINT_MASS_SHARE`; a zero amount, a
        default, a cap) as a point mass: a flag of whether the value is at
        it, a choice given by the categorical head, and the flow's density
        for the values off it. A continuous density can only approach a
        spike by growing without bound there, which distorts the rest of
        the fit, and its draws land near the value rather than on it; with
        the point mass, draws put the value exactly there at the chance the
        head gives, the conditional mean is ``P * mass + (1 - P) * mean off
        it``, and :meth:`score_samples` counts the value's probability.
        Columns on a grid (counts, ratings), which are dequantized instead,
        are left alone, as are all columns under
        ``missing_mechanism="self-masking"``.
    n_encoding_bins : int, default=64
        On a table with categorical or boolean columns, the categorical head
        also reads each number piecewise-linearly encoded over this many
        quantile bins of its observed values
        (:class:`~flowimpute.nn.encoding.PiecewiseLinearEncoding`): the
        thresholds that separate categories, which a network of
        standardized numbers builds slowly. On tables of more than 2,000
        training rows (:data:`HEAD_ESTIMATES_FROM_ROWS`) the numbers it
        encodes are complete: the regressor's estimates stand in for those
        that are not conditioning values. 0 encodes none (the head reads the
        standardized numbers alone).
    {training}
    {imputer}
    {table}
    {compute}

    Attributes
    ----------
    module_ : ArbitraryConditionalFlow
        The fitted flow (standardized modelled columns).
    mixture_context_ : MixtureConditionalMean or None
        The Gaussian mixture the regressor reads (``n_mixture_components``),
        or None.
    regressor_ : ConditionalMeanRegressor or None
        The fitted conditional-mean regressor; None with
        ``point_estimate="mean"`` or without numeric columns to impute.
    hidden_dims_ : tuple of int
        The hidden widths used (``hidden_dims`` resolved).
    dequantization_widths_ : ndarray of shape (n_modelled_features,)
        The training noise width of each modelled column (standardized units).
    history_ : dict
        ``"train_loss"`` and ``"validation_loss"``: mean negative
        log-likelihood per target entry, per epoch (of the numeric targets
        where a table has categories; the head, trained after the flow and
        stopped by its own held-out loss, adds ``"categories_train_loss"``
        and ``"categories_validation_loss"``).
    n_iter_ : int
        Epochs run.
    mean_noise_ : ndarray of shape (n_mean_draws, n_modelled_features + n_point_masses)
        The base noise of the conditional mean's draws, in antithetic pairs
        (``n_mean_draws`` is ``n_draws`` rounded up to an even number).
    missingness_coef_, missingness_intercept_ : ndarray of shape (n_modelled_features,) or None
        The self-masking model of each modelled column (standardized
        units; 0 and 0 for a column without gaps and for categories); None
        with ``missing_mechanism="mar"``.
    point_mass_coordinates_, point_mass_values_ : ndarray of shape (n_point_masses,)
        The modelled columns that hold a point mass (indices among the
        modelled coordinates), and its value in the table's units.
    mean_uniforms_ : ndarray of shape (n_mean_draws,)
        Where each of those draws falls in the mixture's cumulative weights
        (one stratum of the cumulative weights per draw; the two draws of a
        pair are half the strata apart).
    {imputer_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute import ACFlowImputer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.multivariate_normal([0, 0, 0], [[1, .9, .5], [.9, 1, .5], [.5, .5, 1]], 300)
    >>> X[::4, 0] = np.nan
    >>> imputer = ACFlowImputer(max_epochs=5, random_state=0).fit(X)
    >>> np.isnan(imputer.transform(X)).any()
    np.False_
    >>> imputer.score_samples(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **BaseFlowImputer._parameter_constraints,
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "hidden_dims": [tuple, list, StrOptions({"auto"})],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "transformer": [StrOptions({"spline", "affine"})],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "point_estimate": [StrOptions({"blend", "mean", "regression"})],
        "n_mixture_components": [Interval(Integral, 0, None, closed="left"),
                                 StrOptions({"auto"})],
        "sample_posterior": ["boolean"],
        "dequantize": ["boolean"],
        "averaging_epochs": [Interval(Real, 0, None, closed="neither"), None],
        "n_score_splits": [Interval(Integral, 0, None, closed="left")],
        "missing_mechanism": [StrOptions({"mar", "self-masking"})],
        "point_masses": ["boolean"],
        "n_encoding_bins": [Interval(Integral, 0, None, closed="left")],
    }

    #: float32 by default: the networks impute as well trained in float32 as
    #: in float64, several times faster (user guide, "Measured choices").
    shared_parameters: ClassVar[dict] = {**BaseFlowImputer.shared_parameters,
                                         "dtype": "float32"}
    _module_attributes: ClassVar[tuple[str, ...]] = ("module_", "regressor_",
                                                     "mixture_context_")
    parameters = {
        "n_layers": 4, "hidden_dims": "auto", "activation": "relu",
        "transformer": "affine", "n_bins": 8, "n_components": 8, "n_draws": 6,
        "point_estimate": "blend", "n_mixture_components": "auto", "sample_posterior": False,
        "dequantize": True,
        "averaging_epochs": 10.0, "n_score_splits": 32, "missing_mechanism": "mar",
        "point_masses": True, "n_encoding_bins": 64,
        "max_epochs": 200,
        "batch_size": "auto", "learning_rate": 1e-3, "weight_decay": 0.0,
        "validation_fraction": 0.0, "n_iter_no_change": 20, "tol": 1e-4,
        "clip_grad_norm": 10.0,
    }

    # ------------------------------------------------------------------ fit
    def _new_module(self, seed: int, encoding: PiecewiseLinearEncoding | None
                    ) -> ArbitraryConditionalFlow:
        transformer = (RationalQuadraticSpline(self.n_bins) if self.transformer == "spline"
                       else AffineTransformer())
        n_features = self._n_coordinates()
        coordinates, levels = self._category_groups()
        flags = self.modelled_features_.size + np.arange(self.point_mass_coordinates_.size)
        coordinates += [np.array([flag]) for flag in flags]
        levels += [np.array([[0.0], [1.0]])] * flags.size
        head = (CategoricalHead(n_features, coordinates, [torch.as_tensor(table)
                                                          for table in levels],
                                self.hidden_dims_, self.activation, encoding)
                if coordinates else None)
        return ArbitraryConditionalFlow(
            n_features, self.n_layers, transformer, self.hidden_dims_, self.n_components,
            self.activation, seed, head,
            (self.point_mass_coordinates_, flags, self._standardized_masses()),
        ).to(device=self.device_, dtype=self.dtype_)

    def _n_coordinates(self) -> int:
        """The flow's coordinates: the modelled ones, then a flag per point mass."""
        return self.modelled_features_.size + self.point_mass_coordinates_.size

    def _find_point_masses(self, X_scaled: np.ndarray, observed: np.ndarray,
                           lattice_widths: np.ndarray) -> None:
        """Set ``point_mass_coordinates_`` and ``point_mass_values_``: with
        ``point_masses`` (and missingness at random), the continuous numeric
        columns (not a category's, not on a grid: ``lattice_widths`` 0) that
        hold a point mass."""
        candidates = np.zeros(0, dtype=int)
        if self.point_masses and self.missing_mechanism == "mar":
            continuous = lattice_widths == 0
            for members in self._category_groups()[0]:
                continuous[members] = False
            candidates = np.flatnonzero(continuous)
        self.point_mass_coordinates_, masses = find_point_masses(
            self._model_values(X_scaled, observed), observed, candidates)
        # In the table's units, exactly where the value is an end of the
        # column's range (a zero amount, a cap), as standardizing rounds.
        columns, codec = self.point_mass_coordinates_, self.codec_
        values = codec.location_[columns] + masses * codec.scale_[columns]
        for end in (codec.data_min_[columns], codec.data_max_[columns]):
            values = np.where(np.abs(values - end) <= 1e-9 * codec.scale_[columns], end, values)
        self.point_mass_values_ = values

    def _standardized_masses(self) -> np.ndarray:
        """The point masses' values in standardized units."""
        columns = self.point_mass_coordinates_
        return ((self.point_mass_values_ - self.codec_.location_[columns])
                / self.codec_.scale_[columns])

    def _in_units(self, Z: np.ndarray) -> np.ndarray:
        """As the base class, with estimates at a point mass set to its
        value exactly (the draws put them there up to rounding)."""
        X = super()._in_units(Z)
        columns = self.point_mass_coordinates_
        at = np.abs(Z[:, columns] - self._standardized_masses()) < 1e-6
        X[:, columns] = np.where(at, self.point_mass_values_, X[:, columns])
        return X

    def _model_inputs(self, X_scaled: np.ndarray, observed: np.ndarray
                      ) -> tuple[Tensor, Tensor]:
        """The flow's values and observed mask: the model coordinates, then
        each point mass's flag (1 where its value is at it), observed where
        the value is."""
        values = self._model_values(X_scaled, observed)
        columns = self.point_mass_coordinates_
        flags = ((np.abs(values[:, columns] - self._standardized_masses()) < 1e-9)
                 & observed[:, columns])
        return (self._to_tensor(np.concatenate([values, flags], axis=1)),
                torch.as_tensor(np.concatenate([observed, observed[:, columns]], axis=1),
                                device=self.device_))

    def _from_model(self, values: Tensor) -> np.ndarray:
        """The flow's coordinates -> standardized modelled columns (flags dropped)."""
        values = values[:, : self.modelled_features_.size]
        return self.codec_.from_model(values.to("cpu", torch.float64).numpy())

    def _make_codec(self) -> ColumnCodec:
        return ColumnCodec(constant_columns="unit-scale",
                           widen_gapped=self.missing_mechanism == "self-masking")

    def _category_groups(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The modelled coordinates of each categorical or boolean column of
        a table (all of whose coordinates are modelled), and the levels they
        take, standardized: one per category (its indicator at 1, the
        others at 0), or a flag's two."""
        if self.table_ is None:
            return [], []
        position = {int(feature): i for i, feature in enumerate(self.modelled_features_)}
        coordinates, levels = [], []
        for column, kind in enumerate(self.table_.kinds_):
            members = self.table_.column_coordinates_[column]
            if kind not in (CATEGORICAL, BOOLEAN) or any(
                    int(member) not in position for member in members):
                continue
            local = np.array([position[int(member)] for member in members])
            raw = np.eye(local.size) if kind == CATEGORICAL else np.array([[0.0], [1.0]])
            if raw.shape[0] < 2:
                continue
            coordinates.append(local)
            levels.append((raw - self.codec_.location_[local]) / self.codec_.scale_[local])
        return coordinates, levels

    def _start_model(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int) -> None:
        """Build the flow, the training noise and the fixed randomness of the
        conditional mean."""
        self_masking = self.missing_mechanism == "self-masking"
        if self_masking and self.point_estimate == "regression":
            raise ValueError("point_estimate='regression' cannot follow "
                             "missing_mechanism='self-masking': the regressor learns "
                             "p(x_missing | x_observed) from observed values, and only the "
                             "flow's draws can be weighted by the missingness model. Use "
                             "'blend' or 'mean'.")
        self.hidden_dims_ = self._resolve_hidden_dims(X_scaled.shape[0])
        lattice_widths = self.codec_.model_lattice_widths(np.where(observed, X_scaled, np.nan))
        self._find_point_masses(X_scaled, observed, lattice_widths)
        self.module_, self.optimizer_ = self._new_module(
            seed, self._head_encoding(X_scaled, observed)), None
        numeric = ~self.module_.categorical
        with_regressor = self.point_estimate != "mean" and bool(numeric.any())
        self.mixture_context_ = (self._fit_mixture_context(X_scaled, observed, seed)
                                 if with_regressor else None)
        self.regressor_ = (ConditionalMeanRegressor(
            self._n_coordinates(),
            WIDE_HIDDEN_DIMS if X_scaled.shape[0] > WIDE_FROM_ROWS else REGRESSION_HIDDEN_DIMS,
            self.activation, self.mixture_context_,
        ).to(device=self.device_, dtype=self.dtype_) if with_regressor else None)
        head = self.module_.head
        if (head is not None and head.encoding is not None
                and X_scaled.shape[0] > HEAD_ESTIMATES_FROM_ROWS):
            head.read_estimates(self.regressor_)
        widths = lattice_widths.copy() if self.dequantize else np.zeros(X_scaled.shape[1])
        widths[self.module_.categorical[: widths.size].cpu().numpy()] = 0.0   # choices
        self.dequantization_widths_ = widths
        rng = np.random.RandomState(seed)
        self._split_seed_ = int(rng.randint(2**31))   # first: n_draws leaves training alone
        n_pairs = -(-self.n_draws // 2)
        noise = rng.standard_normal((n_pairs, self._n_coordinates()))
        self.mean_noise_ = np.concatenate([noise, -noise])
        self.mean_uniforms_ = (np.arange(2 * n_pairs) + 0.5) / (2 * n_pairs)

    def _head_encoding(self, X_scaled: np.ndarray, observed: np.ndarray
                       ) -> PiecewiseLinearEncoding | None:
        """The encoding of the numeric coordinates that the categorical head
        reads (``n_encoding_bins`` quantile bins of their observed values),
        or None: without categorical or boolean columns (a head of point
        masses' flags alone), numbers or bins."""
        categorical = np.zeros(self._n_coordinates(), dtype=bool)
        categorical[self.modelled_features_.size:] = True   # point masses' flags
        groups = self._category_groups()[0]
        for members in groups:
            categorical[members] = True
        numeric = np.flatnonzero(~categorical)
        if not (self.n_encoding_bins and numeric.size and groups):
            return None
        values, known = self._model_inputs(X_scaled, observed)
        return PiecewiseLinearEncoding.from_quantiles(
            values.to("cpu", torch.float64).numpy(), known.cpu().numpy(), numeric,
            self.n_encoding_bins)

    def _fit_mixture_context(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int
                             ) -> MixtureConditionalMean | None:
        """The Gaussian mixture over the continuous numeric coordinates that
        the regressor reads (``n_mixture_components``), or None where it
        reads none (:data:`MIXTURE_MAX_ROWS`, :data:`MIXTURE_MAX_COORDINATES`)."""
        continuous = np.flatnonzero(~self.module_.categorical.cpu().numpy())
        n_components = self.n_mixture_components
        if n_components == "auto":
            n_components = (AUTO_MIXTURE_COMPONENTS if X_scaled.shape[0] <= MIXTURE_MAX_ROWS
                            else 0)
        if not (n_components and 0 < continuous.size <= MIXTURE_MAX_COORDINATES):
            return None
        values, known = self._model_inputs(X_scaled, observed)
        n_components = min(n_components, values.shape[0])
        return MixtureConditionalMean(continuous, n_components).to(self.device_).fit(
            values, known, seed)

    def _resolve_hidden_dims(self, n_rows: int) -> tuple[int, ...]:
        """``hidden_dims`` as widths; "auto" by the number of rows fitted."""
        if isinstance(self.hidden_dims, str):
            return WIDE_HIDDEN_DIMS if n_rows > WIDE_FROM_ROWS else NARROW_HIDDEN_DIMS
        return check_hidden_dims(self.hidden_dims)

    def _coordinate_columns(self) -> Tensor:
        """The column of each modelled coordinate, numbered from 0 (a
        category's indicators share theirs), for :func:`random_split`."""
        columns = (np.arange(self.modelled_features_.size) if self.table_ is None
                   else np.unique(self.table_.coordinate_columns_[self.modelled_features_],
                                  return_inverse=True)[1])
        # A point mass's flag goes with its value: both conditioning or both targets.
        columns = np.concatenate([columns, columns[self.point_mass_coordinates_]])
        return torch.as_tensor(columns, device=self.device_)

    def _fit_model(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int) -> None:
        self._start_model(X_scaled, observed, seed)
        values, observed_tensor = self._model_inputs(X_scaled, observed)
        self._fit_module(self.module_, self._loss(self._split_seed_, "numbers"),
                         *self._training_split(values, observed_tensor, seed,
                                               self.validation_fraction),
                         seed, self._training_noise())
        if self.regressor_ is not None:   # before the head, which may read it
            config = replace(self._training_config(type(self).__name__, values.shape[0]),
                             n_iter_no_change=None)
            result = train(self.regressor_, self._regression_loss(self._split_seed_ + 2),
                           (values, observed_tensor), None, config,
                           torch.Generator().manual_seed(seed + 2))
            self.history_["regression_train_loss"] = result.history["train_loss"]
        if self.module_.head is not None:
            data, validation = self._training_split(
                values, observed_tensor, seed,
                max(self.validation_fraction, HEAD_VALIDATION_FRACTION))
            config = self._training_config(type(self).__name__, data[0].shape[0])
            if validation is None:   # too few rows to hold out: a fixed number of epochs
                config = replace(config, n_iter_no_change=None)
            result = train(self.module_.head, self._loss(self._split_seed_ + 1, "categories"),
                           data, validation, config, torch.Generator().manual_seed(seed + 1))
            self.history_.update({f"categories_{key}": value
                                  for key, value in result.history.items()})
        self._fit_self_masking(values, observed_tensor, seed)

    def _fit_self_masking(self, values: Tensor, observed: Tensor, seed: int) -> None:
        """With ``missing_mechanism="self-masking"``, fit each numeric
        column's missingness model
        (:func:`~flowimpute.inference.missingness.fit_tilted_self_masking`)
        from :data:`~flowimpute.inference.missingness.TILT_FIT_DRAWS` draws
        of its value given each row's other observed entries, on at most
        :data:`SELF_MASKING_ROWS` rows; otherwise set the models to None."""
        self.missingness_coef_ = self.missingness_intercept_ = None
        if self.missing_mechanism != "self-masking":
            return
        n_rows, n_columns = values.shape
        rng = np.random.RandomState(seed)
        rows = torch.as_tensor(np.sort(rng.permutation(n_rows)[:SELF_MASKING_ROWS]),
                               device=values.device)
        values, observed = values[rows], observed[rows]
        generator = torch.Generator().manual_seed(seed + 4)
        coef, intercept = np.zeros(n_columns), np.zeros(n_columns)
        numeric = ~self.module_.categorical
        for column in range(n_columns):
            gaps = ~observed[:, column]
            if not (bool(numeric[column]) and bool(gaps.any()) and not bool(gaps.all())):
                continue
            target = torch.zeros_like(observed)
            target[:, column] = True
            shape = (TILT_FIT_DRAWS, values.shape[0])
            uniforms = torch.rand(shape, generator=generator, dtype=values.dtype)
            noise = torch.randn(*shape, n_columns, generator=generator, dtype=values.dtype)
            with torch.no_grad():
                draws = torch.stack([draw[:, column] for draw in self.module_.draws(
                    values, observed & ~target, target, uniforms.to(values.device),
                    noise.to(values.device))])
            coef[column], intercept[column] = fit_tilted_self_masking(
                draws.cpu().double().numpy(), gaps.cpu().numpy())
        self.missingness_coef_, self.missingness_intercept_ = coef, intercept

    def _training_config(self, description: str, n_train: int) -> TrainingConfig:
        return replace(super()._training_config(description, n_train),
                       average_epochs=self.averaging_epochs)

    def _training_split(self, values: Tensor, observed: Tensor, seed: int, fraction: float
                        ) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, ...] | None]:
        """Training rows, and validation rows (``fraction`` of them, when
        that makes enough) with one fixed random split of each."""
        train_rows, validation_rows = self._split_validation(values.shape[0], seed, fraction)
        validation = None
        if validation_rows is not None:
            rows = torch.as_tensor(validation_rows, device=self.device_)
            held = observed[rows]
            validation = (values[rows], held, *random_split(
                held, torch.Generator().manual_seed(seed), self._coordinate_columns()))
        rows = torch.as_tensor(train_rows, device=self.device_)
        return (values[rows], observed[rows]), validation

    def _loss(self, split_seed: int, part: str = "both"):
        """Mean negative log-likelihood per target entry of a batch, under a
        random split drawn from ``split_seed``'s stream (training) or the
        split given (validation): of the numeric targets given the
        conditioning entries (``part="numbers"``; every target without a
        head), of the target categories given the
        conditioning entries (``"categories"``; in training, averaged over
        :data:`HEAD_SPLITS` splits), or of both."""
        module, generator = self.module_, torch.Generator().manual_seed(split_seed)
        columns = self._coordinate_columns()
        head = module.head

        def loss(values: Tensor, observed: Tensor, conditioning: Tensor | None = None,
                 target: Tensor | None = None) -> Tensor:
            n_splits = 1
            if conditioning is None:
                conditioning, target = random_split(observed, generator, columns)
                n_splits = HEAD_SPLITS
            total = count = 0.0
            if part != "categories":
                numeric = target & ~module.categorical
                total = -module.numeric_log_prob(values, conditioning, target).sum()
                count = numeric.sum()
            if part != "numbers" and head is not None:
                for split in range(n_splits):
                    if split:
                        conditioning, target = random_split(observed, generator, columns,
                                                            HEAD_LOWEST_RATE)
                    total = total - head.log_prob(values, conditioning, target).sum()
                    count = count + head.n_targets(target)
            return total / torch.as_tensor(count).clamp_min(1)

        return loss

    def _regression_loss(self, split_seed: int):
        """Mean squared error per numeric target entry of the regressor on a
        batch, over :data:`REGRESSION_SPLITS` random splits drawn from
        ``split_seed``'s stream."""
        regressor, generator = self.regressor_, torch.Generator().manual_seed(split_seed)
        columns, categorical = self._coordinate_columns(), self.module_.categorical

        def loss(values: Tensor, observed: Tensor) -> Tensor:
            # The splits side by side: one pass of the regressor and the mixture.
            conditioning, target = (torch.cat(masks) for masks in zip(
                *(random_split(observed, generator, columns) for _ in range(REGRESSION_SPLITS)),
                strict=True))
            values = values.repeat(REGRESSION_SPLITS, 1)
            numeric = target & ~categorical
            error = regressor.squared_error(values, conditioning, numeric)
            return error / numeric.sum().clamp_min(1)

        return loss

    def _training_noise(self):
        """Uniform noise over each discrete column's grid cell, or None."""
        if not self.dequantization_widths_.any():
            return None
        widths = self._to_tensor(np.concatenate([self.dequantization_widths_,
                                                 np.zeros(self.point_mass_coordinates_.size)]))

        def add_noise(batch: Tensor, generator: torch.Generator) -> Tensor:
            uniform = torch.rand(batch.shape, generator=generator, dtype=batch.dtype)
            return batch + (uniform.to(batch.device) - 0.5) * widths

        return add_noise

    def partial_fit(self, X, y=None):
        """One epoch of minibatch Adam over the incomplete rows ``X``,
        continuing the current fit.

        For data that arrives in chunks: on an unfitted imputer the first
        call sorts the columns (empty, constant, modelled), learns the
        scaling and builds the flow from its chunk; later calls keep them
        and the optimizer's state, so make the first chunk representative.
        After :meth:`fit` it continues from the fitted flow with a fresh
        optimizer. No validation split, no early stopping.
        ``history_["train_loss"]`` gains one entry per call. The
        self-masking models are refitted on each chunk.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        if getattr(self, "module_", None) is None:
            X_scaled, observed, seed = self._start_fit(X)
            with seeded_torch(seed, self.device_):
                self._start_model(X_scaled, observed, seed)
            self.history_, self.n_iter_ = {"train_loss": [], "validation_loss": []}, 0
        else:
            X_scaled, observed = self._modelled_input(X)
        values, observed_tensor = self._model_inputs(X_scaled, observed)
        config = self._training_config(type(self).__name__, values.shape[0])
        if getattr(self, "optimizer_", None) is None:   # one Adam, disjoint parameters
            self.optimizer_ = make_optimizer(nn.ModuleList(
                [module for module in (self.module_, self.regressor_) if module is not None]),
                config)
        epoch_seed = self._split_seed_ + 2 * self.n_iter_   # batch order, then splits
        data = (values, observed_tensor)
        loss = run_epoch(self.module_, self._loss(epoch_seed + 1), data, self.optimizer_,
                         config.batch_size, config.clip_grad_norm,
                         torch.Generator().manual_seed(epoch_seed),
                         self.n_iter_ + 1, self._training_noise())
        self.history_["train_loss"].append(loss)
        if self.regressor_ is not None:
            self.history_.setdefault("regression_train_loss", []).append(run_epoch(
                self.regressor_, self._regression_loss(epoch_seed + 2), data,
                self.optimizer_, config.batch_size, config.clip_grad_norm,
                torch.Generator().manual_seed(epoch_seed + 1), self.n_iter_ + 1))
        self._fit_self_masking(*data, epoch_seed)
        self.n_iter_ += 1
        return self

    # ------------------------------------------------------------ inference
    def _draws(self, X_scaled: np.ndarray, observed: np.ndarray, uniforms: Tensor,
               noise: Tensor, category_uniforms: Tensor | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """One draw of the missing entries of every row per row of
        ``uniforms`` (n_draws, 1) or (n_draws, n_rows) and ``noise``
        (n_draws, 1, n_columns) or (n_draws, n_rows, n_columns):
        standardized units, each draw clipped to the imputation range,
        (n_draws, n_rows, n_columns); and the log importance weight of each
        draw of each row, (n_draws, n_rows): 0, or under the self-masking
        model the log-odds of the row's gaps up to a constant, ``sum_j a_j
        x_j`` over its missing numbers, so that the weighted draws follow
        ``p(x_u | x_o, m)``. With ``category_uniforms`` (n_draws, n_rows,
        n_groups) the missing categories are drawn first and the numbers
        given them; without, only the numbers are drawn, given the observed
        entries."""
        module = self.module_
        values, conditioning = self._model_inputs(X_scaled, observed)
        n_draws, n_rows = uniforms.shape[0], values.shape[0]
        slopes = (None if self.missingness_coef_ is None
                  else self._to_tensor(self.missingness_coef_))
        gaps = (~conditioning).to(values.dtype)
        draws, log_weights = [], []
        with torch.no_grad():
            for draw in module.draws(values, conditioning, ~conditioning,
                                     uniforms.expand(n_draws, n_rows),
                                     noise.expand(n_draws, *values.shape), category_uniforms):
                draws.append(self._clip_standardized(self._from_model(draw)))
                if slopes is not None:
                    log_weights.append((draw * slopes * gaps).sum(1))
        return np.stack(draws), (torch.stack(log_weights).to("cpu", torch.float64).numpy()
                                 if log_weights else np.zeros((n_draws, n_rows)))

    def _clip_standardized(self, values: np.ndarray) -> np.ndarray:
        """``values`` (standardized units) clipped to the imputation range."""
        low, high = (self.codec_.standardize(bound) for bound in self._imputation_range())
        return np.clip(values, low, high)

    def _random_draws(self, X_scaled: np.ndarray, observed: np.ndarray, n_draws: int,
                      generator: torch.Generator) -> list[np.ndarray]:
        """Draws of every missing entry, categories included: exact, or
        under the self-masking model each picked by its weight among
        :data:`RESAMPLING_DRAWS` exact draws of ``p(x_u | x_o)``
        (sampling-importance-resampling)."""
        n_rows, n_columns = X_scaled.shape
        per_draw = 1 if self.missingness_coef_ is None else RESAMPLING_DRAWS
        n_candidates = n_draws * per_draw
        uniforms = torch.rand(n_candidates, n_rows, generator=generator, dtype=self.dtype_,
                              device=self.device_)
        noise = torch.randn(n_candidates, n_rows, self._n_coordinates(), generator=generator,
                            dtype=self.dtype_, device=self.device_)
        head = self.module_.head
        category_uniforms = None if head is None else torch.rand(
            n_candidates, n_rows, head.n_groups, generator=generator, dtype=self.dtype_,
            device=self.device_)
        candidates, log_weights = self._draws(X_scaled, observed, uniforms, noise,
                                              category_uniforms)
        if per_draw == 1:
            return list(candidates)
        candidates = candidates.reshape(n_draws, per_draw, n_rows, n_columns)
        cumulative = np.cumsum(softmax(log_weights.reshape(n_draws, per_draw, n_rows), axis=1),
                               axis=1)
        picks = torch.rand(n_draws, n_rows, generator=generator, dtype=torch.float64,
                           device=self.device_).cpu().numpy()
        picked = (picks[:, None] > cumulative[:, :-1]).sum(1)
        return [candidates[d, picked[d], np.arange(n_rows)] for d in range(n_draws)]

    def _impute(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The conditional mean of the numbers and the most probable class of
        each category, both given the observed entries, or with
        ``sample_posterior`` one draw."""
        if self.sample_posterior:
            generator = make_generator(draw_seed(self.random_state), self.device_)
            return self._random_draws(X_scaled, observed, 1, generator)[0]
        imputed = self._point_numbers(X_scaled, observed)
        categorical = self.module_.categorical[: imputed.shape[1]].cpu().numpy()
        if categorical.any():
            values, conditioning = self._model_inputs(X_scaled, observed)
            with torch.no_grad():
                modes = self.module_.most_probable_categories(values, conditioning,
                                                              ~conditioning)
            imputed[:, categorical] = self._from_model(modes)[:, categorical]
        return imputed

    def _point_numbers(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Every entry's ``point_estimate`` given the observed entries
        (standardized units, clipped to the imputation range; only the
        missing numbers are used)."""
        regressor = self.regressor_ if self.point_estimate != "mean" else None
        if self.point_estimate == "regression" and regressor is not None:
            return self._regression(X_scaled, observed)
        draws, log_weights = self._draws(X_scaled, observed,
                                         self._to_tensor(self.mean_uniforms_)[:, None],
                                         self._to_tensor(self.mean_noise_)[:, None])
        unweighted = self._with_point_masses(draws.mean(0), X_scaled, observed)
        mean = (unweighted if self.missingness_coef_ is None
                else np.einsum("kn,knd->nd", softmax(log_weights, axis=0), draws))
        if regressor is None:
            return mean
        # The regressor learns p(x_u | x_o)'s mean: keep its correction of the
        # flow's, and the self-masking model's shift of the flow's.
        return mean + (self._regression(X_scaled, observed) - unweighted) / 2

    def _with_point_masses(self, mean: np.ndarray, X_scaled: np.ndarray,
                           observed: np.ndarray) -> np.ndarray:
        """The flow's conditional mean from ``mean``, its draws' average
        (standardized units), where columns hold point masses: there the
        draws are of the values off the point mass, and the mean is
        ``P(at it) * its value + (1 - P) * mean``, with ``P`` from the head."""
        columns = self.point_mass_coordinates_
        if not columns.size:
            return mean
        values, conditioning = self._model_inputs(X_scaled, observed)
        with torch.no_grad():
            chance = self.module_.point_mass_probabilities(values, conditioning)
        chance = chance.to("cpu", torch.float64).numpy()
        mean = mean.copy()
        mean[:, columns] = (chance * self._standardized_masses()
                            + (1 - chance) * mean[:, columns])
        return mean

    def _regression(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The regressor's prediction of every entry, clipped as a draw."""
        values, conditioning = self._model_inputs(X_scaled, observed)
        with torch.no_grad():
            prediction = self.regressor_(values, conditioning)
        return self._clip_standardized(self._from_model(prediction))

    def sample_imputations(self, X, n_imputations: int = 5, random_state=None) -> np.ndarray:
        """Draw several completions of ``X`` exactly from ``p(x_mis | x_obs)``.

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
        generator = make_generator(draw_seed(random_state), self.device_)
        return self._complete_draws(
            X, observed, n_imputations,
            lambda X_scaled, modelled, rows: self._random_draws(
                X_scaled, modelled, n_imputations, generator), index)

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood of each row's observed entries, ``log p(x_obs)``.

        A marginal density, in the units of ``X``: the flow with no
        conditioning entries and the observed entries as targets, mixed with
        ``n_score_splits`` factorizations of them into two blocks
        (:meth:`~flowimpute.flows.arbitrary_conditional.ArbitraryConditionalFlow.factorized_log_prob`),
        plus the log-Jacobian of the scaling of those entries. Each row's
        score depends on its own entries alone. Constant columns are
        not modelled and contribute nothing; a row with no observed modelled
        entry scores 0. With ``dequantize``, discrete numeric columns are
        scored under the density of the dequantized data. Observed
        categories contribute their probability (chained: each given the
        ones before it), so on a mixed table the score is a log-probability
        of the categories times a density of the numbers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
        """
        X_scaled, observed = self._modelled_input(X)
        n_modelled = X_scaled.shape[1]
        numeric = ~self.module_.categorical[:n_modelled].cpu().numpy()
        values, target = self._model_inputs(X_scaled, observed)
        # A value at its point mass is a probability (its flag's), not a density.
        densities = observed & ~self.module_.at_point_masses(values)[:, :n_modelled].cpu().numpy()
        values = values.cpu().numpy()
        values[:, :n_modelled] = X_scaled   # scored as given, not clipped to the range
        blocks = self._score_blocks()

        def log_likelihood(values: Tensor, target: Tensor) -> Tensor:
            return self.module_.factorized_log_prob(values, target, blocks)

        scores = self._map_chunks(log_likelihood, values, target.cpu().numpy())
        return scores - densities @ (np.log(self.codec_.scale_) * numeric)

    def _score_blocks(self) -> Tensor:
        """The first blocks of :meth:`score_samples`' factorizations,
        (n_score_splits, n_modelled_features) bool: the conditioning part of
        a :func:`random_split` of a complete row, one after another from a
        stream fixed at fit (so the first ``k`` do not depend on the number)."""
        columns = self._coordinate_columns()
        generator = torch.Generator().manual_seed(self._split_seed_ + 3)
        complete = torch.ones(1, columns.numel(), dtype=torch.bool, device=columns.device)
        blocks = [random_split(complete, generator, columns)[0][0]
                  for _ in range(self.n_score_splits)]
        return (torch.stack(blocks) if blocks else
                torch.zeros(0, columns.numel(), dtype=torch.bool, device=columns.device))
