"""VFGImputer: the Variational Flow Graphical model as an imputer."""

from __future__ import annotations

import math
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
from ..vfg.inference import SectionInference, random_visibility
from ..vfg.layout import SectionLayout
from ..vfg.model import VFGModel
from ..vfg.structure import auto_sections, parse_tree, resolve_sections
from ._base import BaseFlowImputer

#: Step counts of the gap search that ``n_gap_steps="auto"`` chooses from.
GAP_STEP_CANDIDATES = (0, 5, 10, 25)


class VFGImputer(BaseFlowImputer):
    """Missing-value imputation with a Variational Flow Graphical model.

    Columns are grouped into sections; each section is a leaf of a tree whose
    edges are invertible flows (an LU linear map and coupling layers) and
    whose inner nodes average the messages of their children. Training
    maximizes the layer-wise ELBO of the VFG paper, once with every observed
    section visible and once with sections hidden at random (``mask_prob``),
    so the model learns to infer hidden sections from the others. To impute
    a row, its observed sections are encoded and averaged up the tree, and the
    root state is decoded down into the missing sections.

    Data handling: columns are standardized with the mean and standard
    deviation of their observed entries and the reconstruction loss is the
    squared (or absolute) error on that scale, the scale the imputation error
    is usually measured on. Training rows may miss values anywhere: a section
    with no observed entry is simply not visible to the encoder; a partially
    observed section is visible, its missing entries are filled by
    ``n_refine_steps`` rounds of encode-decode from the column means, and only
    its observed entries are scored. Decoded values are clipped to each
    column's training range, so heavy tails cannot make them explode.

    The root is as narrow as one section, so decoding it cannot carry all
    that the entries observed beside a gap say about it. ``transform``
    therefore continues the fill of partially observed sections by a search
    down the row's negative ELBO (``n_gap_steps``), as far as held-out
    training entries showed to help each column; it costs many times the
    transform time of the refine rounds alone, and ``n_gap_steps=0``
    restores the fast path (user guide, "How VFGImputer works").

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
        What fills the padding coordinates while training: "noise" draws
        them from a standard normal afresh for every batch, so every edge
        flow sees inputs that fill its whole latent space and the batch
        entropies of the ELBO stay finite; "zeros" puts the inputs of a
        narrower section on a subspace. Imputation and scoring always pad
        with zeros (the noise's mean), so ``transform`` stays
        deterministic. Only sections narrower than ``latent_dim`` have
        padding.
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
        the gap search and the choice among ``n_init`` restarts. The model
        works on standardized columns: "equal" counts every standardized
        column the same, the right choice when errors are measured on
        z-scored data; "variance" weights each by its variance, so squared
        errors count in the data's own units, the right choice when errors
        are measured there (a raw MSE) and columns differ in spread. An
        array of shape (n_features,) gives a nonnegative weight per input
        column. Weights are rescaled to mean 1 over the modelled columns.
        :meth:`score_samples` is always the unweighted ELBO (user guide,
        "Weighting the columns").
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
        negative ELBO (the objective the model is trained on, with every
        observed entry held fixed), so a gap agrees with the entries observed
        beside it rather than only with the averaged root. "auto" chooses
        the count per column at fit among 0, 5, 10 and 25, by imputing
        hidden observed training entries (0 keeps the refine rounds' fill).
    gap_step_size : float, default=0.1
        Adam step size of that search (standardized units).
    n_init : int, default=1
        Models trained from different random initializations; the one that
        best imputes held-out sections is kept. Each is scored on the
        validation rows (the training rows when ``validation_fraction`` is
        0): every observed section is hidden with probability ``mask_prob``
        (the same draw for every model), imputed from the rest, and the mean
        squared error on the hidden observed entries (standardized scale,
        weighted by ``column_weights``) decides. The ELBO cannot decide:
        with learned precisions it rewards confident messages, not accurate
        imputations. Costs ``n_init`` fits; worth it because one model can
        fail to learn a column (user guide, "How VFGImputer works").
    {imputer}
    {training}
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
    mean_, scale_, data_min_, data_max_ : ndarray
        Per-column statistics of the observed training entries (modelled
        columns only).
    empty_features_, modelled_features_ : ndarray of int
        Columns with no observed value at fit time, and the others.
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
    history_, n_iter_, device_, n_features_in_, feature_names_in_
        As in :class:`~flowimpute.CouplingFlowDensity`.

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

    def __init__(
        self,
        sections=None,
        tree=None,
        section_size: int = 2,
        latent_dim: int | None = None,
        padding: str = "noise",
        n_coupling_layers: int = 3,
        hidden_dims: tuple[int, ...] = (32, 32),
        activation: str = "tanh",
        log_scale_bound: float = 3.0,
        aggregation: str = "weighted",
        latent_distribution: str = "gaussian",
        column_weights="equal",
        mask_prob: float = 0.5,
        decode_from: str = "root",
        n_refine_steps: int = 3,
        n_gap_steps: int | str = "auto",
        gap_step_size: float = 0.1,
        n_init: int = 1,
        missing_values=np.nan,
        add_indicator: bool = False,
        keep_empty_features: bool = False,
        max_epochs: int = 200,
        batch_size: int | str = "auto",
        learning_rate: float = 3e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | None = 20,
        tol: float = 1e-4,
        clip_grad_norm: float | None = 10.0,
        device: str = "auto",
        dtype: str = "float64",
        inference_batch_size: int = 4096,
        random_state=None,
        verbose: int = 0,
    ) -> None:
        self.sections = sections
        self.tree = tree
        self.section_size = section_size
        self.latent_dim = latent_dim
        self.padding = padding
        self.n_coupling_layers = n_coupling_layers
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.log_scale_bound = log_scale_bound
        self.aggregation = aggregation
        self.latent_distribution = latent_distribution
        self.column_weights = column_weights
        self.mask_prob = mask_prob
        self.decode_from = decode_from
        self.n_refine_steps = n_refine_steps
        self.n_gap_steps = n_gap_steps
        self.gap_step_size = gap_step_size
        self.n_init = n_init
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.clip_grad_norm = clip_grad_norm
        self.device = device
        self.dtype = dtype
        self.inference_batch_size = inference_batch_size
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------- structure
    def _resolve_structure(self, X_scaled: np.ndarray, observed: np.ndarray) -> list[np.ndarray]:
        """Sections as positions among the modelled columns; sets ``sections_``."""
        position = {column: i for i, column in enumerate(self.modelled_features_)}
        if self.sections is None:
            local = auto_sections(np.where(observed, X_scaled, np.nan), self.section_size)
        else:
            full = resolve_sections(self.sections, self.n_features_in_,
                                    getattr(self, "feature_names_in_", None))
            local = [np.array([position[c] for c in group if c in position]) for group in full]
            if any(group.size == 0 for group in local):
                raise ValueError("A section holds only columns without any observed value; "
                                 "remove those columns or give other sections.")
        self.sections_ = [self.modelled_features_[group] for group in local]
        self.tree_ = parse_tree(self.tree, len(local))
        widest = max(group.size for group in local)
        self.latent_dim_ = self.latent_dim if self.latent_dim is not None else max(2, widest)
        if self.latent_dim_ < widest:
            raise ValueError(f"latent_dim={self.latent_dim} is smaller than the widest "
                             f"section ({widest} columns).")
        if self.latent_dim_ < 2:
            raise ValueError("latent_dim must be at least 2 for coupling layers.")
        return local

    def _resolve_column_weights(self) -> np.ndarray:
        """Per modelled column, the weight of its reconstruction error, mean 1."""
        if isinstance(self.column_weights, str):
            weights = (self.scale_ ** 2 if self.column_weights == "variance"
                       else np.ones(self.modelled_features_.size))
        else:
            try:
                weights = np.asarray(self.column_weights, dtype=np.float64)
            except (TypeError, ValueError) as error:
                raise ValueError("column_weights must be 'equal', 'variance' or one "
                                 f"number per input column: {error}") from None
            if weights.shape != (self.n_features_in_,):
                raise ValueError(f"column_weights has shape {weights.shape}; expected "
                                 f"({self.n_features_in_},), one weight per input column.")
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise ValueError("column_weights must be finite and nonnegative.")
            weights = weights[self.modelled_features_]
            if not weights.sum() > 0:
                raise ValueError("column_weights gives every modelled column weight 0; at "
                                 "least one column must be reconstructed.")
        return weights / weights.mean()

    def _inference(self) -> SectionInference:
        """The fitted model's inference engine (refine rounds, gap search, decoding)."""
        return SectionInference(self.module_, self.layout_, self.decode_from,
                                self.n_refine_steps, self._entry_weights_, self.gap_step_size)

    # ------------------------------------------------------------------- fit
    def _fit_model(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int) -> None:
        hidden_dims = check_hidden_dims(self.hidden_dims)
        local_sections = self._resolve_structure(X_scaled, observed)
        self.layout_ = SectionLayout(local_sections, self.latent_dim_,
                                     (self.data_min_ - self.mean_) / self.scale_,
                                     (self.data_max_ - self.mean_) / self.scale_,
                                     self.dtype_, self.device_)
        self.column_weights_ = self._resolve_column_weights()
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
            self._fit_module(self.module_, self._training_loss(),
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

    def _training_loss(self):
        """The negative ELBO of a batch: the full pass (Algorithm 1) and,
        with ``mask_prob > 0``, the random-masking pass (Algorithm 2)."""
        model, layout, weights = self.module_, self.layout_, self._entry_weights_
        inference = self._inference()
        pad_with_noise = self.padding == "noise" and layout.padded

        def loss_fn(values: Tensor, observed: Tensor) -> Tensor:
            leaves, entry_observed, leaf_observed = inference.prepare(values, observed)
            if pad_with_noise:
                leaves = layout.with_padding_noise(leaves)
            if self.mask_prob == 0:
                return model.negative_elbo(leaves, leaf_observed, entry_observed, weights)
            # Both passes over the same rows, stacked into one batch: same
            # terms, half the calls.
            visible = torch.cat([leaf_observed, random_visibility(
                leaf_observed, self.mask_prob, self.dtype_)])
            per_row, entropy = model.elbo_terms(
                torch.cat([leaves, leaves]), visible,
                torch.cat([entry_observed, entry_observed]), n_groups=2, entry_weights=weights)
            n_rows = leaves.shape[0]
            return per_row[:n_rows].mean() + per_row[n_rows:].mean() - entropy

        return loss_fn

    # ------------------------------------------------------------- transform
    def _impute(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        inference, fill = self._inference(), self._gap_filler()

        def impute_chunk(values: Tensor, observed: Tensor) -> Tensor:
            return inference.estimate(values, *fill(values, observed))

        return self._map_chunks(impute_chunk, X_scaled, observed)

    def _impute_draws(self, X_scaled: np.ndarray, observed: np.ndarray,
                      root_noise: np.ndarray) -> np.ndarray:
        """One imputation per draw of ``root_noise`` (n_draws, n_rows,
        latent_dim): the gaps of partially observed sections are filled
        once (refine rounds and gap search do not depend on the draw), then
        each draw decodes its own root state. Returns (n_draws, n_rows,
        n_columns)."""
        n_rows, n_columns = X_scaled.shape
        n_draws, _, width = root_noise.shape
        inference, fill = self._inference(), self._gap_filler()

        def impute_chunk(values: Tensor, observed: Tensor, noise: Tensor) -> Tensor:
            filled = fill(values, observed)
            return torch.cat([inference.estimate(values, *filled, draw)
                              for draw in noise.unflatten(1, (n_draws, width)).unbind(1)],
                             dim=1)

        noise = np.moveaxis(root_noise, 0, 1).reshape(n_rows, n_draws * width)
        return np.moveaxis(self._map_chunks(impute_chunk, X_scaled, observed, noise).reshape(
            n_rows, n_draws, n_columns), 1, 0)

    def _gap_filler(self):
        """``fill(values, observed)``: a chunk's padded sections with the
        gaps of partially observed sections filled (refine rounds, then each
        column's gap-search snapshot), their observed entries and the
        visible leaves. The per-column step counts are worked out once."""
        inference = self._inference()
        steps = self._gap_steps_per_entry()
        counts = sorted({int(count) for count in steps.unique()})

        def fill(values: Tensor, observed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            leaves, entry_observed, leaf_visible = inference.prepare(values, observed)
            snapshots = inference.gap_snapshots(leaves, entry_observed, leaf_visible, counts)
            for count in counts:
                leaves = torch.where(steps == count, snapshots[count], leaves)
            return leaves, entry_observed, leaf_visible

        return fill

    # ------------------------------------------------------------ gap search
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
        inference = self._inference()
        values = self._to_tensor(np.where(held.kept, held.truth, 0.0))
        leaves, entry_observed, leaf_visible = inference.prepare(
            values, torch.as_tensor(held.kept, device=self.device_))
        snapshots = inference.gap_snapshots(leaves, entry_observed, leaf_visible,
                                            list(GAP_STEP_CANDIDATES))
        errors = np.zeros((len(GAP_STEP_CANDIDATES), held.truth.shape[1]))
        for index, count in enumerate(GAP_STEP_CANDIDATES):
            estimate = inference.estimate(values, snapshots[count], entry_observed,
                                          leaf_visible).cpu().numpy()
            errors[index] = squared_errors(estimate, held.truth, held.hidden)
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
        X, observed = self._validate_draw_request(X, n_imputations)
        noise = check_random_state(random_state).standard_normal(
            (n_imputations, X.shape[0], self.latent_dim_))
        return self._complete_draws(
            X, observed, n_imputations,
            lambda X_scaled, modelled, rows: self._impute_draws(X_scaled, modelled,
                                                                noise[:, rows]))

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
        model = self.module_
        entry_constant = (0.5 * math.log(2 * math.pi)
                          if self.latent_distribution == "gaussian" else math.log(2.0))

        inference = self._inference()

        def score_chunk(values: Tensor, observed: Tensor) -> Tensor:
            leaves, entry_observed, leaf_visible = inference.prepare(values, observed)
            per_row, _ = model.elbo_terms(leaves, leaf_visible, entry_observed)
            n_visible_messages = torch.stack(model.visibility(leaf_visible)[:-1], dim=1).sum(1)
            n_terms = entry_observed.sum((1, 2)) + self.latent_dim_ * n_visible_messages
            return -(per_row + entry_constant * n_terms)

        elbo = np.empty(X.shape[0])
        for rows in self._row_chunks(X.shape[0]):
            observed_rows = observed[rows][:, self.modelled_features_]
            X_scaled = self._scaled(X[rows][:, self.modelled_features_], observed_rows)
            elbo[rows] = (self._map_chunks(score_chunk, X_scaled, observed_rows)
                          + self.training_entropy_
                          - (observed_rows * np.log(self.scale_)).sum(axis=1))
        return elbo
