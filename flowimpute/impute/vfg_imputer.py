"""VFGImputer: the Variational Flow Graphical model as an imputer."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import Tensor

from .._base import check_hidden_dims, make_generator
from ..inference.selection import best_count_per_column, hide_observed_entries, squared_errors
from ..nn.mlp import ACTIVATIONS
from ..vfg.inference import SectionInference
from ..vfg.layout import SectionLayout, column_weights
from ..vfg.model import VFGModel
from ..vfg.structure import resolve_structure
from ._base import BaseFlowImputer

#: Step counts of the gap search that ``n_gap_steps="auto"`` chooses from.
GAP_STEP_CANDIDATES = (0, 5, 10, 25)


class VFGImputer(BaseFlowImputer):
    """Missing-value imputation with a Variational Flow Graphical model.

    Columns are grouped into sections, the leaves of a tree whose edges are
    invertible flows and whose inner nodes aggregate their children's
    messages. Training maximizes the paper's layer-wise ELBO on the observed
    entries, with sections also hidden at random (``mask_prob``) so that the
    model learns to infer hidden sections from the others. A row is imputed
    by encoding its observed sections up the tree and decoding the root into
    the missing ones; the gaps of partially observed sections are filled by
    encode-decode rounds and a short search down the row's negative ELBO.
    Columns are standardized on their observed entries, and imputations are
    clipped to each column's training range. The user guide's "How
    VFGImputer works" gives the details and the measurements.

    Parameters
    ----------
    sections : list of lists of int or str, or None, default=None
        Column groups (indices, or names when fitting on a DataFrame), each
        column in exactly one group. None groups correlated columns
        automatically into sections of about ``section_size`` columns.
    tree : nested list of int or None, default=None
        Aggregation structure over section indices: ``[0, 1, 2]`` is one
        aggregation node over three sections; ``[[0, 1], [2, 3]]`` two nodes
        joined under a root. None: one node over up to 4 sections, else a
        balanced tree with up to 4 children per node.
    section_size : int, default=2
        Target section size when ``sections`` is None.
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
    aggregation : {"weighted", "mean"}, default="weighted"
        "mean" is the paper's plain average of the visible children's
        messages; "weighted" uses learned per-child, per-coordinate
        confidences (a product of Gaussian experts).
    latent_distribution : {"gaussian", "laplace"}, default="gaussian"
        Root prior and the form of the reconstruction terms (L2 or L1).
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
    n_refine_steps : int, default=3
        Encode-decode rounds that fill the missing entries of partially
        observed sections.
    n_gap_steps : int or "auto", default="auto"
        After the refine rounds, ``transform`` moves the missing entries of
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
    {imputer}
    {training}
    {table}
    {compute}

    Attributes
    ----------
    sections_ : list of ndarray
        Column indices (into the input columns) of each section.
    tree_ : Tree
        The aggregation tree.
    latent_dim_ : int
    module_ : VFGModel
    layout_ : SectionLayout
        Where each modelled column sits in the padded sections.
    {imputer_attributes}
    gap_steps_ : ndarray of int of shape (n_modelled_features,) or None
        With ``n_gap_steps="auto"``, the gap-search steps chosen for each
        modelled column; None otherwise (an integer ``n_gap_steps`` is read
        at transform time, so it can be changed after fit).
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

    _parameter_constraints: dict = {
        **BaseFlowImputer._parameter_constraints,
        "sections": [list, None],
        "tree": [list, None],
        "section_size": [Interval(Integral, 1, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left"), None],
        "padding": [StrOptions({"noise", "zeros"})],
        "n_coupling_layers": [Interval(Integral, 1, None, closed="left")],
        "hidden_dims": [tuple, list],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "log_scale_bound": [Interval(Real, 0, None, closed="neither")],
        "aggregation": [StrOptions({"weighted", "mean"})],
        "latent_distribution": [StrOptions({"gaussian", "laplace"})],
        "column_weights": [StrOptions({"equal", "variance"}), "array-like"],
        "mask_prob": [Interval(Real, 0, 1, closed="left")],
        "decode_from": [StrOptions({"root", "ancestor"})],
        "n_refine_steps": [Interval(Integral, 0, None, closed="left")],
        "n_gap_steps": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "gap_step_size": [Interval(Real, 0, None, closed="neither")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
    }

    parameters = {
        "sections": None, "tree": None, "section_size": 2, "latent_dim": None, "padding": "noise",
        "n_coupling_layers": 3, "hidden_dims": (32, 32), "activation": "tanh",
        "log_scale_bound": 3.0, "aggregation": "weighted", "latent_distribution": "gaussian",
        "column_weights": "equal", "mask_prob": 0.5, "decode_from": "root", "n_refine_steps": 3,
        "n_gap_steps": "auto", "gap_step_size": 0.1, "n_init": 1, "max_epochs": 200,
        "batch_size": "auto", "learning_rate": 3e-3, "weight_decay": 0.0,
        "validation_fraction": 0.1, "n_iter_no_change": 20, "tol": 1e-4, "clip_grad_norm": 10.0,
    }

    def _inference(self) -> SectionInference:
        """The fitted model's inference engine (refine rounds, gap search, decoding)."""
        return SectionInference(self.module_, self.layout_, self.decode_from,
                                self.n_refine_steps, self._entry_weights_, self.gap_step_size)

    # ------------------------------------------------------------------- fit
    def _fit_model(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int) -> None:
        hidden_dims = check_hidden_dims(self.hidden_dims)
        structure = resolve_structure(
            self.sections, self.tree, self.section_size, self.latent_dim,
            np.where(observed, X_scaled, np.nan), self.modelled_features_,
            self.n_coordinates_, self._coordinate_names())
        local_sections = structure.local_sections
        self.sections_, self.tree_, self.latent_dim_ = (structure.sections, structure.tree,
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
        validation = (None if validation_rows is None else
                      tuple(t[torch.as_tensor(validation_rows, device=self.device_)]
                            for t in (values, observed_tensor)))
        held_out = validation or (values[index[:4096]], observed_tensor[index[:4096]])
        candidates, errors = [], []
        for attempt in range(self.n_init):
            torch.manual_seed(seed + attempt)
            self.module_ = VFGModel(
                self.tree_, self.latent_dim_, self.n_coupling_layers, hidden_dims,
                self.activation, self.log_scale_bound, self.aggregation,
                self.latent_distribution,
            ).to(device=self.device_, dtype=self.dtype_)
            loss = self._inference().training_loss(
                self.mask_prob, self.padding == "noise" and self.layout_.padded)
            self._fit_module(self.module_, loss,
                             (values[index], observed_tensor[index]), validation, seed + attempt)
            if self.n_init > 1:
                errors.append(self._inference().masked_imputation_error(
                    *held_out, self.mask_prob, make_generator(seed, self.device_)))
            candidates.append((self.module_, self.history_, self.n_iter_))
        best = int(np.argmin(errors)) if errors else 0
        self.module_, self.history_, self.n_iter_ = candidates[best]
        self.init_errors_ = np.array(errors) if errors else np.array([np.nan])
        self.gap_steps_ = (self._select_gap_steps(X_scaled, observed, np.random.RandomState(seed))
                           if self.n_gap_steps == "auto" else None)
        with torch.no_grad():
            leaves, entry_observed, leaf_visible = self._inference().prepare(
                values[index[:4096]], observed_tensor[index[:4096]])
            _, entropy = self.module_.elbo_terms(leaves, leaf_visible, entry_observed)
        self.training_entropy_ = float(entropy)

    # ------------------------------------------------------------- transform
    def _impute(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        inference, steps = self._inference(), self._gap_steps_per_entry()
        return self._map_chunks(lambda values, observed: inference.impute(
            values, observed, steps), X_scaled, observed)

    def _impute_draws(self, X_scaled: np.ndarray, observed: np.ndarray,
                      root_noise: np.ndarray) -> np.ndarray:
        """One imputation per draw of ``root_noise`` (n_draws, n_rows,
        latent_dim); returns (n_draws, n_rows, n_columns)."""
        (n_rows, n_columns), (n_draws, _, width) = X_scaled.shape, root_noise.shape
        inference, steps = self._inference(), self._gap_steps_per_entry()
        noise = np.moveaxis(root_noise, 0, 1).reshape(n_rows, n_draws * width)
        draws = self._map_chunks(lambda values, observed, noise: inference.impute(
            values, observed, steps, noise.unflatten(1, (n_draws, width)).unbind(1)),
            X_scaled, observed, noise)
        return np.moveaxis(draws.reshape(n_rows, n_draws, n_columns), 1, 0)

    def _gap_steps_per_entry(self) -> Tensor:
        """Gap-search steps of every padded section entry (padding: 0)."""
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

        Each draw takes the root state from a Gaussian around its imputed
        value whose precision is the prior's 1 plus the learned precisions of
        the root's observed children (with ``aggregation="mean"`` each child
        counts 1), and decodes it into the missing entries. Only the root's
        uncertainty is sampled: deeper aggregation levels and the decoders'
        own noise are not, so the spread is a lower bound on the true
        uncertainty. Observed entries are identical in every draw. The fill
        of partially observed sections that the encoder sees (refine rounds
        and gap search) is computed once and shared by every draw.

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
            (n_imputations, X.shape[0], self.latent_dim_))
        return self._complete_draws(
            X, observed, n_imputations,
            lambda X_scaled, modelled, rows: self._impute_draws(X_scaled, modelled,
                                                                noise[:, rows]),
            index)

    def score_samples(self, X) -> np.ndarray:
        """Per-row ELBO of the observed entries, in the units of ``X``.

        The layer-wise ELBO the model is trained on: the Gaussian (or
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

        Returns
        -------
        elbo : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X, observed = self._validate_input(X, reset=False)
        inference = self._inference()
        elbo = np.empty(X.shape[0])
        for rows in self._row_chunks(X.shape[0]):
            observed_rows = observed[rows][:, self.modelled_features_]
            X_scaled = self._scaled(X[rows][:, self.modelled_features_], observed_rows)
            elbo[rows] = (self._map_chunks(inference.elbo_without_entropy, X_scaled,
                                           observed_rows)
                          + self.training_entropy_
                          - (observed_rows * np.log(self.scale_)).sum(axis=1))
        return elbo
