"""VFGImputer: the Variational Flow Graphical model as an imputer."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d
from torch import Tensor

from .._base import check_hidden_dims, make_generator, seeded_torch
from ..inference.missingness import TILT_FIT_DRAWS, fit_tilted_self_masking
from ..inference.mixture_copula import GaussianMixtureCopula
from ..inference.selection import best_count_per_column, hide_observed_entries, squared_errors
from ..nn.mlp import ACTIVATIONS
from ..preprocessing.codec import ColumnCodec
from ..vfg.inference import SectionInference
from ..vfg.layout import SectionLayout, column_weights
from ..vfg.model import VFGModel
from ..vfg.section_gaussian import SectionGaussian
from ..vfg.structure import parse_graph, resolve_structure
from ._base import BaseFlowImputer

#: Step counts of the gap search that ``n_gap_steps="auto"`` chooses from.
GAP_STEP_CANDIDATES = (0, 5, 10, 25)
#: (row, section) pairs decoded to estimate the section Gaussians, and the
#: fewest rows used however many sections there are.
SECTION_GAUSSIAN_PAIRS = 2 ** 14
SECTION_GAUSSIAN_MIN_ROWS = 512
#: The concatenating root's mixture: EM iterations at most, and training
#: rows it is fitted on at most (a random subset beyond).
ROOT_MIXTURE_EM_ITERATIONS = 50
ROOT_MIXTURE_MAX_ROWS = 10_000
#: ``aggregation="auto"`` concatenates tables of at most this many modelled
#: coordinates: each EM step factorizes a covariance of their width per row
#: and component.
ROOT_MIXTURE_MAX_COORDINATES = 64
#: Rows whose draws fit the self-masking models of a concatenating root.
SELF_MASKING_FIT_ROWS = 4_000


class VFGImputer(BaseFlowImputer):
    """Missing-value imputation with a Variational Flow Graphical model.

    Columns are grouped into sections, the leaves of a tree or DAG whose
    edges are invertible flows and whose inner nodes aggregate their
    children's messages.

    Without ``sections`` or ``graph`` (``aggregation="auto"``), the graph is
    one node that concatenates every column's message, each column its own
    section with a monotone (Yeo-Johnson) edge flow, under a Gaussian
    mixture prior fitted by EM on the incomplete rows: its likelihood of
    the observed entries is exact, and a gap is imputed by the exact
    conditional mean given every observed entry of its row.

    With sections or a graph, the paper's model: nodes average their
    children's messages, and training maximizes the paper's layer-wise
    ELBO on the observed entries, with sections also hidden at random
    (``mask_prob``) so that the model learns to infer hidden sections from
    the others. A row is imputed by encoding its observed sections up the
    graph and decoding the roots into the missing ones. By default each
    section's missing entries are then taken from a Gaussian of the
    section given its decode from the other sections and its own observed
    entries, so a gap moves with the value observed beside it
    (``section_model``).

    Columns are standardized on their observed entries, and imputations
    are clipped to each column's training range. The user guide's "How
    VFGImputer works" gives the details and the measurements.

    Parameters
    ----------
    sections : list of lists of int or str, dict or None, default=None
        Column groups (indices, or names when fitting on a DataFrame), each
        column in exactly one group; a dict names the sections
        (``{"location": ["Latitude", "Longitude"], ...}``), and ``graph``
        may then name a section by its name as well as its index. None
        groups correlated columns automatically into sections of about
        ``section_size`` columns.
    graph : nested list of int, dict or None, default=None
        Aggregation structure over section indices. A nested list is a tree:
        ``[0, 1, 2]`` is one aggregation node over three sections; ``[[0,
        1], [2, 3]]`` two nodes joined under a root. A dict maps each
        aggregation node's name to its children (section indices or other
        nodes' names) and may describe a DAG: ``{"a": [0, 1], "b": [1,
        2]}`` gives section 1 two parents, and nodes that are nobody's child
        are roots, each with its own prior. The graph must be acyclic and
        every section a child of some node; a tree written as a dict gives
        the same model as its nested list. None: one node over up to 4
        sections, else a balanced tree with up to 4 children per node.
    section_size : int, default=2
        Target section size when ``sections`` is None and the aggregation
        averages ("weighted" or "mean").
    latent_dim : int or None, default=None
        Width of every latent node; sections narrower than it are padded
        (see ``padding``; the padding is dropped again on decoding). None:
        the widest section, at least 2. A wider latent leaves an invertible
        decoder room for what its section does not show (user guide, "A
        wider latent").
    padding : {"noise", "zeros"}, default="noise"
        What fills the padding of sections narrower than ``latent_dim``
        while training: standard normal draws afresh for every batch, so
        every edge flow's inputs fill its latent space and the ELBO's batch
        entropies stay finite, or zeros. Imputing and scoring pad with zeros
        (the noise's mean), so ``transform`` stays deterministic.
    n_coupling_layers : int, default=3
        Coupling layers per edge flow.
    hidden_dims : tuple of int, default=(32, 32)
        Hidden widths of each coupling's conditioner.
    activation : {"relu", "tanh", "silu", "elu"}, default="tanh"
    log_scale_bound : float, default=3.0
        Bound on each coupling's log-scale.
    aggregation : {"auto", "concatenate", "weighted", "mean"}, default="auto"
        How an aggregation node joins its children. "auto": "concatenate"
        when ``sections`` and ``graph`` are None, ``prior`` is "standard"
        and the table has at most :data:`ROOT_MIXTURE_MAX_COORDINATES`
        modelled coordinates (a category counts one per value), else
        "weighted". "mean" is the paper's plain average of the visible children's
        messages; "weighted" uses learned per-child, per-coordinate
        confidences (a product of Gaussian experts). "concatenate": one
        aggregation node that concatenates the messages of every column,
        each column its own section whose edge is a monotone Yeo-Johnson
        flow fitted by maximum likelihood, under a prior of
        ``n_components`` full-covariance Gaussians fitted by EM on the
        incomplete rows
        (:class:`~flowimpute.inference.mixture_copula.GaussianMixtureCopula`).
        The root then keeps every column's own coordinate, so a gap is
        imputed from every observed entry of its row through the prior's
        exact conditional, :meth:`score_samples` is the exact
        log-density of the observed entries, and no network is trained;
        ``sections`` and ``graph`` must be None, ``prior`` "standard", and
        the parameters of the edge networks, of training and of
        ``section_model`` do not apply (user guide, "A concatenating
        root").
    n_components : int, default=10
        Gaussians of the concatenating root's prior (at most one per
        training row); used with ``aggregation="concatenate"`` only.
    covariance_ridge : float, default=0.1
        Share of each root coordinate's variance added to every component's
        covariance at each EM step of the concatenating root's prior, so
        that no component collapses onto a few rows and a row unlike the
        training rows is not claimed by one narrow component. It widens
        every component: the scores are the exact log-density of that
        regularized model, and on data that truly are one Gaussian the
        conditional means shrink towards the column means (user guide, "A
        concatenating root"); a smaller ridge suits density estimation on
        large tables.
    latent_distribution : {"gaussian", "laplace"}, default="gaussian"
        Root prior and the form of the reconstruction terms (L2 or L1).
    prior : {"standard", "label"}, default="standard"
        "label" centres each root's prior on a learned mean per class of the
        ``y`` given to :meth:`fit` (the paper's label-dependent prior, for
        disentangled representations, :meth:`encode`); rows of one class
        are then pulled together at the roots. Imputing needs no label:
        without one the prior is the mixture of the classes, weighted by
        their frequency at fit, and :meth:`score_samples` takes the labels
        when they are known.
    column_weights : {"equal", "variance"} or array-like, default="equal"
        Weight of each column's reconstruction error in the training loss,
        the gap search and the choice among ``n_init`` restarts: "equal" on
        standardized columns (for errors measured on z-scores), "variance"
        so that squared errors count in the data's own units (for a raw
        MSE), or one nonnegative weight per input column; rescaled to mean 1.
        :meth:`score_samples` is always the unweighted ELBO.
    mask_prob : float, default=0.5
        Probability that a section is hidden in the random-masking pass,
        drawn independently for each row; at least one observed section per
        row stays visible.
    decode_from : {"root", "ancestor"}, default="root"
        Decode missing sections from the root state, or from the closest
        ancestor that has observed descendants (the paper's Remark 1).
    section_model : {"conditional", "paper"}, default="conditional"
        How missing entries are imputed from the fitted graph.
        "conditional": each section is decoded from the other sections
        (itself hidden), and its missing entries are the mean of the
        Gaussian of the section's values given that decode and the
        section's observed entries; the Gaussian of each section (values
        and decode jointly) is estimated on the training rows after
        training. A gap then follows the entries observed beside it, and a
        wholly hidden section gets a calibrated decode. "paper": the
        paper's imputation, hidden sections decoded from the roots and the
        gaps of partially observed sections filled by the refine rounds and
        the gap search. Training is the same for both.
    n_refine_steps : int, default=3
        Encode-decode rounds that fill the missing entries of partially
        observed sections (before the gap search, or before the other
        sections' decodes are computed with ``section_model="conditional"``).
    n_gap_steps : int or "auto", default="auto"
        With ``section_model="paper"``, after the refine rounds,
        ``transform`` moves the missing entries of
        partially observed sections by this many Adam steps down the row's
        negative ELBO (observed entries held fixed), so a gap agrees with the
        entries observed beside it. "auto" chooses the count per column at
        fit among 0, 5, 10 and 25, on hidden observed training entries.
    gap_step_size : float, default=0.1
        Adam step size of that search (standardized units).
    n_init : int, default=1
        Models trained from different random initializations; the one that
        best imputes held-out sections is kept: on the validation rows (the
        training rows when nothing is held out), observed sections
        are hidden with probability ``mask_prob`` (the same draw for every
        model) and imputed, and the weighted squared error decides (the
        ELBO rewards confident messages, not accurate imputations). Costs
        ``n_init`` fits; one model can fail to learn a column.
    missing_mechanism : {{"mar", "self-masking"}}, default="mar"
        "mar": missingness ignorable (MCAR or MAR). "self-masking": a
        value's own size decides whether it goes missing, each column by a
        logistic model ``P(m_j = 1 | x_j) = sigmoid(a_j x_j + c_j)``; needs
        ``section_model="conditional"``. The section Gaussian, estimated on
        observed values, is the conditional of values *that were observed*;
        the missing ones follow it tilted by the odds of going missing,
        ``exp(a_j x_j)``, which for a Gaussian moves its mean by the
        conditional covariance times the slopes (exact, for the mean and
        for draws alike). ``(a_j, c_j)`` are fitted after the section
        Gaussian by the likelihood of the column's gaps given the rest of
        the row
        (:func:`~flowimpute.inference.missingness.fit_tilted_self_masking`).
        Imputed values of columns with gaps may go beyond the observed range
        by at most its width on either side. It is an assumption: under
        MCAR or MAR the models can pick up slopes that move the imputations
        wrongly.
    {imputer}
    {training}
    {table}
    {compute}

    Attributes
    ----------
    aggregation_ : {"concatenate", "weighted", "mean"}
        The aggregation used (``aggregation`` with "auto" resolved).
    sections_ : list of ndarray
        Column indices (into the input columns) of each section.
    graph_ : Graph
        The aggregation graph (:mod:`flowimpute.vfg.structure`): each
        node's parents and name; draw it with
        :func:`flowimpute.plotting.plot_vfg_graph`.
    latent_dim_ : int
    module_ : VFGModel
    layout_ : SectionLayout
        Where each modelled column sits in the padded sections.
    {imputer_attributes}
    section_gaussian_ : SectionGaussian or None
        With ``section_model="conditional"``, each section's Gaussian of its
        values and its decode from the other sections; None otherwise.
    missingness_coef_, missingness_intercept_ : ndarray of shape (n_modelled_features,) or None
        The self-masking model of each modelled column (standardized units;
        0 and 0 for a column without gaps); None with
        ``missing_mechanism="mar"``.
    gap_steps_ : ndarray of int of shape (n_modelled_features,) or None
        With ``section_model="paper"`` and ``n_gap_steps="auto"``, the
        gap-search steps chosen for each modelled column; None otherwise (an
        integer ``n_gap_steps`` is read at transform time, so it can be
        changed after fit).
    column_weights_ : ndarray of shape (n_modelled_features,)
        The weight of each modelled column's reconstruction error (see
        ``column_weights``), mean 1.
    init_errors_ : ndarray of shape (n_init,)
        Held-out masked imputation error of each initialization (see
        ``n_init``); the kept model has the smallest.
    training_entropy_ : float
        Batch entropy terms of the ELBO on (up to 4,096) training rows, used
        by :meth:`score_samples`.
    history_ : dict
        ``"train_loss"`` and ``"validation_loss"`` per epoch.
    n_iter_ : int
        Epochs run.

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute import VFGImputer
    >>> rng = np.random.RandomState(0)
    >>> z = rng.normal(size=(300, 1))
    >>> X = np.hstack([z, 2 * z, -z, z ** 2])
    >>> X[::3, 1] = np.nan
    >>> imputer = VFGImputer(sections=[[0, 1], [2, 3]], max_epochs=5, random_state=0)
    >>> np.isnan(imputer.fit_transform(X)).any()
    np.False_
    """

    _module_attributes: ClassVar[tuple[str, ...]] = ("module_", "section_gaussian_")

    _parameter_constraints: dict = {
        **BaseFlowImputer._parameter_constraints,
        "sections": [list, dict, None],
        "graph": [list, dict, None],
        "section_size": [Interval(Integral, 1, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left"), None],
        "padding": [StrOptions({"noise", "zeros"})],
        "n_coupling_layers": [Interval(Integral, 1, None, closed="left")],
        "hidden_dims": [tuple, list],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "log_scale_bound": [Interval(Real, 0, None, closed="neither")],
        "aggregation": [StrOptions({"auto", "concatenate", "weighted", "mean"})],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_ridge": [Interval(Real, 0, None, closed="neither")],
        "latent_distribution": [StrOptions({"gaussian", "laplace"})],
        "prior": [StrOptions({"standard", "label"})],
        "column_weights": [StrOptions({"equal", "variance"}), "array-like"],
        "mask_prob": [Interval(Real, 0, 1, closed="left")],
        "decode_from": [StrOptions({"root", "ancestor"})],
        "section_model": [StrOptions({"conditional", "paper"})],
        "n_refine_steps": [Interval(Integral, 0, None, closed="left")],
        "n_gap_steps": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "gap_step_size": [Interval(Real, 0, None, closed="neither")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "missing_mechanism": [StrOptions({"mar", "self-masking"})],
    }

    parameters = {
        "sections": None, "graph": None, "section_size": 2, "latent_dim": None, "padding": "noise",
        "n_coupling_layers": 3, "hidden_dims": (32, 32), "activation": "tanh",
        "log_scale_bound": 3.0, "aggregation": "auto", "n_components": 10,
        "covariance_ridge": 0.1,
        "latent_distribution": "gaussian",
        "prior": "standard", "column_weights": "equal", "mask_prob": 0.5, "decode_from": "root",
        "section_model": "conditional", "n_refine_steps": 3,
        "n_gap_steps": "auto", "gap_step_size": 0.1, "n_init": 1, "missing_mechanism": "mar",
        "max_epochs": 200,
        "batch_size": "auto", "learning_rate": 3e-3, "weight_decay": 0.0,
        "validation_fraction": 0.1, "n_iter_no_change": 20, "tol": 1e-4, "clip_grad_norm": 10.0,
    }

    def _make_codec(self) -> ColumnCodec:
        return ColumnCodec(constant_columns="unit-scale",
                           widen_gapped=self.missing_mechanism == "self-masking")

    def _inference(self) -> SectionInference:
        """The fitted model's inference engine (refine rounds, gap search, decoding)."""
        return SectionInference(self.module_, self.layout_, self.decode_from,
                                self.n_refine_steps, self._entry_weights_, self.gap_step_size,
                                self.section_gaussian_)

    # ------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Fit the imputer on ``X``, which may contain missing values anywhere.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None, default=None
            Class labels, required with ``prior="label"`` (they centre the
            roots' prior) and ignored otherwise.

        Returns
        -------
        self : object
        """
        X_scaled, observed, seed = self._start_fit(X)
        labels = self._fit_labels(y, X_scaled.shape[0])
        with seeded_torch(seed, self.device_):
            self._fit_model(X_scaled, observed, seed, labels)
        return self

    def _fit_labels(self, y, n_rows: int) -> np.ndarray | None:
        """Class indices of ``y`` for a label prior (setting ``classes_``), or None."""
        if self.prior != "label":
            self.classes_ = None
            return None
        if y is None:
            raise ValueError('prior="label" needs the class labels: call fit(X, y).')
        y = column_or_1d(y, warn=True)
        if len(y) != n_rows:
            raise ValueError(f"y has {len(y)} labels for {n_rows} rows of X.")
        if pd.isna(y).any():
            raise ValueError("y has missing labels; a label prior needs the class of every "
                             "row (drop the unlabelled rows).")
        self.classes_, labels = np.unique(y, return_inverse=True)
        return labels

    def _label_indices(self, y, n_rows: int) -> np.ndarray | None:
        """Class indices of labels given after fit (None stays None)."""
        if y is None:
            return None
        if self.prior != "label":
            raise ValueError('Labels are used only by a model fitted with prior="label".')
        y = column_or_1d(y)
        if len(y) != n_rows:
            raise ValueError(f"y has {len(y)} labels for {n_rows} rows of X.")
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(f"y holds classes {unseen.tolist()} not seen at fit; the model "
                             f"knows {self.classes_.tolist()}.")
        return np.searchsorted(self.classes_, y)

    def _fit_model(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int,
                   labels: np.ndarray | None = None) -> None:
        self.aggregation_ = self.aggregation
        if self.aggregation == "auto":
            self.aggregation_ = ("concatenate" if self.sections is None and self.graph is None
                                 and self.prior == "standard"
                                 and X_scaled.shape[1] <= ROOT_MIXTURE_MAX_COORDINATES
                                 else "weighted")
        if self.aggregation_ == "concatenate":
            self._fit_concatenating(X_scaled, observed, seed)
            return
        hidden_dims = check_hidden_dims(self.hidden_dims)
        if self.missing_mechanism == "self-masking" and self.section_model != "conditional":
            raise ValueError("missing_mechanism='self-masking' needs "
                             "section_model='conditional': the self-masking models tilt the "
                             "section Gaussian's conditionals.")
        structure = resolve_structure(
            self.sections, self.graph, self.section_size, self.latent_dim,
            np.where(observed, X_scaled, np.nan), self.modelled_features_,
            self.n_coordinates_, self._coordinate_names())
        local_sections = structure.local_sections
        self.sections_, self.graph_, self.latent_dim_ = (structure.sections, structure.graph,
                                                        structure.latent_dim)
        self.layout_ = SectionLayout(local_sections, self.latent_dim_,
                                     self.codec_.standardized_low_,
                                     self.codec_.standardized_high_, self.dtype_, self.device_)
        self.column_weights_ = column_weights(self.column_weights, self.scale_,
                                              self.modelled_features_, self.n_coordinates_)
        self._entry_weights_ = self._to_tensor(self.layout_.per_entry(self.column_weights_))
        values = self._to_tensor(X_scaled)
        observed_tensor = torch.as_tensor(observed, device=self.device_)
        train_rows, validation_rows = self._split_validation(values.shape[0], seed)
        index = torch.as_tensor(train_rows, device=self.device_)
        data = (values, observed_tensor)
        if labels is not None:
            data += (torch.as_tensor(labels, device=self.device_),)
        validation = (None if validation_rows is None else
                      tuple(t[torch.as_tensor(validation_rows, device=self.device_)]
                            for t in data))
        held_out = validation or (values[index[:4096]], observed_tensor[index[:4096]])
        self.section_gaussian_ = None   # training and selection use the paper's inference
        candidates, errors = [], []
        for attempt in range(self.n_init):
            torch.manual_seed(seed + attempt)
            self.module_ = VFGModel(
                self.graph_, self.latent_dim_, self.n_coupling_layers, hidden_dims,
                self.activation, self.log_scale_bound, self.aggregation_,
                self.latent_distribution, 0 if labels is None else self.classes_.size,
            ).to(device=self.device_, dtype=self.dtype_)
            if labels is not None:
                frequency = np.bincount(labels, minlength=self.classes_.size) / labels.size
                self.module_.log_class_weights.copy_(self._to_tensor(np.log(frequency)))
            loss = self._inference().training_loss(
                self.mask_prob, self.padding == "noise" and self.layout_.padded)
            self._fit_module(self.module_, loss, tuple(t[index] for t in data), validation,
                             seed + attempt)
            if self.n_init > 1:
                errors.append(self._inference().masked_imputation_error(
                    *held_out, self.mask_prob, make_generator(seed, self.device_)))
            candidates.append((self.module_, self.history_, self.n_iter_))
        best = int(np.argmin(errors)) if errors else 0
        self.module_, self.history_, self.n_iter_ = candidates[best]
        self.init_errors_ = np.array(errors) if errors else np.array([np.nan])
        self.section_gaussian_ = self.missingness_coef_ = self.missingness_intercept_ = None
        if self.section_model == "conditional":
            decodes = self._leave_out_decodes(values[index], observed_tensor[index])
            self.section_gaussian_ = SectionGaussian(self.layout_.real).to(
                device=self.device_, dtype=self.dtype_).fit(*decodes)
            if self.missing_mechanism == "self-masking":
                self._fit_self_masking(*decodes, seed)
        self.gap_steps_ = (self._select_gap_steps(X_scaled, observed, np.random.RandomState(seed))
                           if self.n_gap_steps == "auto" and self.section_gaussian_ is None
                           else None)
        with torch.no_grad():
            leaves, entry_observed, leaf_visible = self._inference().prepare(
                values[index[:4096]], observed_tensor[index[:4096]])
            _, entropy = self.module_.elbo_terms(leaves, leaf_visible, entry_observed)
        self.training_entropy_ = float(entropy)

    @torch.no_grad()
    def _fit_concatenating(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int) -> None:
        """One concatenating node over one-column sections: fit the edges'
        Yeo-Johnson maps and the root's mixture prior, and with
        ``missing_mechanism="self-masking"`` the self-masking models."""
        for name in ("sections", "graph"):
            if getattr(self, name) is not None:
                raise ValueError(f'aggregation="concatenate" joins every column at one node, '
                                 f"each column its own section: {name} must be None.")
        if self.prior != "standard":
            raise ValueError('aggregation="concatenate" has a mixture prior of its own; '
                             'prior="label" needs aggregation="weighted" or "mean".')
        n_rows, n_columns = X_scaled.shape
        self.sections_ = [np.array([column]) for column in self.modelled_features_]
        self.graph_ = parse_graph([list(range(n_columns))], n_columns, None)
        self.latent_dim_, self.layout_ = 1, None
        self.column_weights_ = column_weights(self.column_weights, self.scale_,
                                              self.modelled_features_, self.n_coordinates_)
        rows = np.random.RandomState(seed).permutation(n_rows)[:ROOT_MIXTURE_MAX_ROWS]
        values = torch.as_tensor(X_scaled[rows], dtype=torch.float64, device=self.device_)
        known = torch.as_tensor(observed[rows], device=self.device_)
        low, high = (torch.as_tensor(bound, dtype=torch.float64) for bound in
                     (self.codec_.standardized_low_, self.codec_.standardized_high_))
        self.module_ = GaussianMixtureCopula(n_columns, min(self.n_components, n_rows)).to(
            self.device_).fit(values, known, low, high, seed, ROOT_MIXTURE_EM_ITERATIONS,
                              self.covariance_ridge)
        mixture = self.module_.mixture
        self.n_iter_ = len(mixture.log_likelihoods_)
        self.history_ = {"train_loss": [-value for value in mixture.log_likelihoods_],
                         "validation_loss": []}
        self.section_gaussian_ = self.gap_steps_ = self.classes_ = None
        self.missingness_coef_ = self.missingness_intercept_ = None
        self.init_errors_, self.training_entropy_ = np.array([np.nan]), 0.0
        if self.missing_mechanism == "self-masking":
            self._fit_copula_self_masking(values[:SELF_MASKING_FIT_ROWS],
                                          known[:SELF_MASKING_FIT_ROWS], seed)

    def _fit_copula_self_masking(self, values: Tensor, known: Tensor, seed: int) -> None:
        """Each column's self-masking model in the root's coordinates, from
        :data:`~flowimpute.inference.missingness.TILT_FIT_DRAWS` draws of
        its value given the rest of each row; the root's conditionals are
        tilted by the slopes."""
        generator = torch.Generator().manual_seed(seed + 4)
        n_columns = values.shape[1]
        coef, intercept = np.zeros(n_columns), np.zeros(n_columns)
        gaps = ~known.cpu().numpy()
        for column in range(n_columns):
            if gaps[:, column].any() and not gaps[:, column].all():
                draws = self.module_.column_draws(values, known, column, TILT_FIT_DRAWS,
                                                  generator)
                coef[column], intercept[column] = fit_tilted_self_masking(
                    draws.numpy(), gaps[:, column])
        self.module_.slopes.copy_(torch.as_tensor(coef))
        self.missingness_coef_, self.missingness_intercept_ = coef, intercept

    @torch.no_grad()
    def _leave_out_decodes(self, values: Tensor, observed: Tensor
                           ) -> tuple[Tensor, Tensor, Tensor]:
        """What the section Gaussian and the self-masking models are fitted
        on: the padded sections of the first training rows (in-sample: the
        model saw them), as many as give :data:`SECTION_GAUSSIAN_PAIRS`
        (row, section) pairs, at least :data:`SECTION_GAUSSIAN_MIN_ROWS`,
        their observed entries, and each section decoded from the others."""
        n_rows = max(SECTION_GAUSSIAN_MIN_ROWS, SECTION_GAUSSIAN_PAIRS // len(self.sections_))
        leaves, entry_observed = self.layout_.leaves(values[:n_rows], observed[:n_rows])
        every_section = torch.ones(leaves.shape[:2], dtype=torch.bool, device=leaves.device)
        return leaves, entry_observed, self._inference().leave_section_out(
            leaves, entry_observed, every_section)

    @torch.no_grad()
    def _fit_self_masking(self, leaves: Tensor, entry_observed: Tensor, decoded: Tensor,
                          seed: int) -> None:
        """Fit each column's missingness model from
        :data:`~flowimpute.inference.missingness.TILT_FIT_DRAWS` draws of its
        value from the fitted section Gaussian given the rest of each row
        (the rows of :meth:`_leave_out_decodes`), and tilt the section
        Gaussian by the slopes."""
        generator = torch.Generator().manual_seed(seed + 4)
        gather, real = self.layout_.gather.cpu().numpy(), self.layout_.real.cpu().numpy()
        coef, intercept = np.zeros(self.layout_.n_columns), np.zeros(self.layout_.n_columns)
        for position in range(leaves.shape[2]):   # one entry of every section at a time
            hidden = entry_observed.clone()
            hidden[:, :, position] = False
            draws = torch.stack([self.section_gaussian_.conditional(
                leaves, hidden, decoded, torch.randn(leaves.shape, generator=generator,
                                                     dtype=leaves.dtype).to(leaves.device)
            )[:, :, position] for _ in range(TILT_FIT_DRAWS)]).cpu().double().numpy()
            gaps = ~entry_observed[:, :, position].cpu().numpy()
            for section in np.flatnonzero(real[:, position]):
                column_gaps = gaps[:, section]
                if column_gaps.any() and not column_gaps.all():
                    coef[gather[section, position]], intercept[gather[section, position]] = (
                        fit_tilted_self_masking(draws[:, :, section], column_gaps))
        self.section_gaussian_.slopes.copy_(self._to_tensor(self.layout_.per_entry(coef)))
        self.missingness_coef_, self.missingness_intercept_ = coef, intercept

    # ------------------------------------------------------------- transform
    def _impute(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        if self.aggregation_ == "concatenate":
            return self._map_chunks(self.module_.conditional_mean, X_scaled, observed)
        inference, steps = self._inference(), self._gap_steps_per_entry()
        return self._map_chunks(lambda values, observed: inference.impute(
            values, observed, steps), X_scaled, observed)

    def _impute_draws(self, X_scaled: np.ndarray, observed: np.ndarray,
                      draw_noise: np.ndarray) -> np.ndarray:
        """One imputation per draw of ``draw_noise`` (n_draws, n_rows,
        :meth:`_noise_width`); returns (n_draws, n_rows, n_columns)."""
        (n_rows, n_columns), (n_draws, _, width) = X_scaled.shape, draw_noise.shape
        if self.aggregation_ == "concatenate":
            return np.stack([self._map_chunks(self.module_.sample, X_scaled, observed, noise)
                             for noise in draw_noise])
        inference, steps = self._inference(), self._gap_steps_per_entry()
        noise = np.moveaxis(draw_noise, 0, 1).reshape(n_rows, n_draws * width)
        draws = self._map_chunks(lambda values, observed, noise: inference.impute(
            values, observed, steps, noise.unflatten(1, (n_draws, width)).unbind(1)),
            X_scaled, observed, noise)
        return np.moveaxis(draws.reshape(n_rows, n_draws, n_columns), 1, 0)

    def _noise_width(self) -> int:
        """Standard normals per row and draw: one per padded section entry
        with a section Gaussian, else one per root coordinate (with a
        concatenating root, one more to choose the prior's component)."""
        if self.aggregation_ == "concatenate":
            return len(self.sections_) + 1
        if self.section_gaussian_ is not None:
            return self.layout_.real.numel()
        return len(self.graph_.roots) * self.latent_dim_

    def _gap_steps_per_entry(self) -> Tensor | None:
        """Gap-search steps of every padded section entry (padding: 0); None
        with a section Gaussian, which fills the gaps without a search."""
        if self.section_gaussian_ is not None:
            return None
        if self.n_gap_steps != "auto":
            per_column = np.full(self.modelled_features_.size, self.n_gap_steps)
        elif self.gap_steps_ is None:
            raise ValueError('n_gap_steps="auto" chooses the step counts during fit; '
                             "this imputer was fitted with a fixed count: refit it.")
        else:
            per_column = self.gap_steps_
        return torch.as_tensor(self.layout_.per_entry(per_column), device=self.device_)

    @torch.no_grad()
    def _select_gap_steps(self, X_scaled: np.ndarray, observed: np.ndarray,
                          rng: np.random.RandomState) -> np.ndarray:
        """Per column, the gap-search step count (among
        :data:`GAP_STEP_CANDIDATES`) that best recovers hidden training
        entries (:mod:`flowimpute.inference.selection`). In-sample: the rows
        were seen in training."""
        held = hide_observed_entries(X_scaled, observed, rng)
        values = self._to_tensor(np.where(held.kept, held.truth, 0.0))
        estimates = self._inference().estimates_after(
            values, torch.as_tensor(held.kept, device=self.device_), GAP_STEP_CANDIDATES)
        errors = np.stack([squared_errors(estimate.cpu().numpy(), held.truth, held.hidden)
                           for estimate in estimates])
        return best_count_per_column(errors, held.hidden, GAP_STEP_CANDIDATES)

    def sample_imputations(self, X, n_imputations: int = 5, random_state=None) -> np.ndarray:
        """Draw several plausible completions of ``X`` (multiple imputation).

        With a concatenating root each draw is exact: a component of the
        prior's conditional given the row's observed entries (tilted by the
        self-masking models, if any), a Gaussian draw from it, mapped back
        through the edges.

        Otherwise, with ``section_model="conditional"`` each draw takes a section's
        missing entries from the section's conditional Gaussian given its
        decode from the other sections and its observed entries (the
        Gaussian's spread was measured on the training rows, so it holds the
        model's error as well as the data's noise).

        With ``section_model="paper"`` each draw takes every root's state
        from a Gaussian around its imputed value whose precision is the
        prior's 1 plus the learned precisions of the root's observed
        children (with ``aggregation="mean"`` each child counts 1), and
        decodes them into the missing entries. Only the roots' uncertainty
        is sampled: deeper aggregation levels and the decoders' own noise
        are not, so the spread is a lower bound on the true uncertainty. The
        fill of partially observed sections that the encoder sees (refine
        rounds and gap search) is computed once and shared by every draw.

        Observed entries are identical in every draw.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_imputations : int, default=5
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        draws : ndarray of shape (n_imputations, n_samples, n_features_out)
        """
        X, observed, index = self._validate_draw_request(X, n_imputations)
        noise = check_random_state(random_state).standard_normal(
            (n_imputations, X.shape[0], self._noise_width()))
        return self._complete_draws(
            X, observed, n_imputations,
            lambda X_scaled, modelled, rows: self._impute_draws(X_scaled, modelled,
                                                                noise[:, rows]),
            index)

    def encode(self, X, nodes=None) -> np.ndarray:
        """Each row's state at chosen nodes of the graph: a representation.

        The observed sections are encoded up the graph (the gaps of
        partially observed sections filled as :meth:`transform` fills them);
        a node's state is the (weighted) average of its visible children's
        messages. A concatenating root's state is each row's coordinates
        under the prior: the observed entries' own, and the prior's
        conditional mean of the others. Use it as features for another model, or
        :class:`~flowimpute.VFGEncoder` to do so in a Pipeline.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            May contain missing values.
        nodes : sequence of str or int, or None, default=None
            Aggregation nodes, by name (``graph_.names``: the keys of a
            ``graph`` given as a dict; "root" and "node <i>" for a tree) or
            number; None: the roots.

        Returns
        -------
        states : ndarray of shape (n_samples, n_nodes * latent_dim)
            The nodes' states side by side (``latent_dim_`` coordinates
            each; a concatenating root has one per modelled column).
        """
        check_is_fitted(self)
        numbers = self._node_numbers(nodes)
        if self.aggregation_ == "concatenate":
            return self._map_chunks(self.module_.root_state, *self._modelled_input(X))
        X, observed = self._validate_input(X, reset=False)
        inference, steps = self._inference(), self._gap_steps_per_entry()
        states = np.empty((X.shape[0], len(numbers) * self.latent_dim_))
        for rows in self._row_chunks(X.shape[0]):
            observed_rows = observed[rows][:, self.modelled_features_]
            X_scaled = self._scaled(X[rows][:, self.modelled_features_], observed_rows)
            states[rows] = self._map_chunks(
                lambda values, observed: inference.node_states(values, observed, steps, numbers),
                X_scaled, observed_rows)
        return states

    def _state_width(self) -> int:
        """Coordinates of one aggregation node's state: every modelled
        column's for a concatenating root, else ``latent_dim_``."""
        return len(self.sections_) if self.aggregation_ == "concatenate" else self.latent_dim_

    def _node_numbers(self, nodes) -> list[int]:
        """Numbers of the aggregation nodes named (or numbered) in ``nodes``."""
        graph = self.graph_
        if nodes is None:
            return list(graph.roots)
        if isinstance(nodes, (str, int, np.integer)):
            nodes = [nodes]
        numbers = []
        for node in nodes:
            number = graph.names.index(node) if node in graph.names else node
            if not isinstance(number, (int, np.integer)) or not (
                    graph.n_sections <= number < graph.n_nodes):
                raise ValueError(
                    f"nodes names {node!r}, which is not an aggregation node; the graph's "
                    f"are {list(graph.names[graph.n_sections:])} (numbers "
                    f"{graph.n_sections} to {graph.n_nodes - 1}).")
            numbers.append(int(number))
        return numbers

    def score_samples(self, X, y=None) -> np.ndarray:
        """Per-row ELBO of the observed entries, in the units of ``X``.

        With ``aggregation="concatenate"`` the ELBO is exact: the
        log-density of each row's observed entries (a marginal of the
        model). Otherwise it is the layer-wise ELBO the model is trained on: the Gaussian (or
        Laplace) log-likelihood of every observed entry reconstructed from
        the root, of every visible message given its parent, the root's
        prior log-density, and the batch entropies measured on the training
        data. It is a lower bound on the log-density only up to those
        batch approximations: use it to compare rows, or models with the same
        sections, not as a calibrated density.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            May contain missing values; only observed entries are scored.
        y : array-like of shape (n_samples,) or None, default=None
            With ``prior="label"``, each row's class (one seen at fit),
            whose prior the roots are scored under; None scores them under
            the mixture of the classes.

        Returns
        -------
        elbo : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X, observed = self._validate_input(X, reset=False)
        labels = self._label_indices(y, X.shape[0])
        if self.aggregation_ == "concatenate":
            observed = observed[:, self.modelled_features_]
            X_scaled = self._scaled(X[:, self.modelled_features_], observed)
            return (self._map_chunks(self.module_.log_prob, X_scaled, observed)
                    - (observed * np.log(self.scale_)).sum(axis=1))
        inference = self._inference()
        elbo = np.empty(X.shape[0])
        for rows in self._row_chunks(X.shape[0]):
            observed_rows = observed[rows][:, self.modelled_features_]
            X_scaled = self._scaled(X[rows][:, self.modelled_features_], observed_rows)
            arrays = (X_scaled, observed_rows) + (() if labels is None else (labels[rows],))
            elbo[rows] = (self._map_chunks(inference.elbo_without_entropy, *arrays)
                          + self.training_entropy_
                          - (observed_rows * np.log(self.scale_)).sum(axis=1))
        return elbo
