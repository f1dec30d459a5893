"""Parameter documentation shared by several estimators, written once.

An estimator's docstring names a block as ``{training}`` (say) and the class
is decorated with :func:`fill_doc`, which puts the block in, with each
parameter's default read from the estimator's own ``__init__``.
"""

from __future__ import annotations

import inspect
import math
import textwrap

#: The fitted attributes every estimator has.
_FITTED = """\
device_ : torch.device
    Device the model lives on.
n_features_in_ : int
    Number of features seen during fit.
feature_names_in_ : ndarray of shape (``n_features_in_``,)
    Feature names, when ``X`` had string column names.
table_ : TableEncoder or None
    The column kinds and categories of a table fitted with integer, boolean
    or categorical columns
    (:class:`~flowimpute.preprocessing.table.TableEncoder`); None for a table
    of floats."""

#: Blocks of numpydoc parameter entries; ``{name}`` is the default of ``name``.
BLOCKS = {
    "training": """\
max_epochs : int, default={max_epochs}
    Maximum passes over the training data.
batch_size : int or "auto", default={batch_size}
    Rows per minibatch of Adam; "auto" is ``min(256, max(16, n_train // 16))``,
    at least about 16 optimizer steps per epoch however small the table.
learning_rate : float, default={learning_rate}
    Adam step size.
weight_decay : float, default={weight_decay}
    Adam L2 penalty.
validation_fraction : float, default={validation_fraction}
    Share of rows held out for early stopping. When it makes fewer than 50
    rows (0, or a table under 500 rows at 0.1), nothing is held out and
    early stopping watches the training loss.
n_iter_no_change : int or None, default={n_iter_no_change}
    Stop after this many epochs without improvement of at least ``tol`` and
    restore the best epoch's parameters; None trains ``max_epochs``.
tol : float, default={tol}
    Minimum improvement of the monitored loss.
clip_grad_norm : float or None, default={clip_grad_norm}
    Clip the gradient's global norm to this value.""",
    "table": """\
categorical_features : "auto" or array-like of int, str or bool, default={categorical_features}
    The columns to model as categories. "auto": the DataFrame columns of
    ``category``, ``object`` or ``string`` dtype that hold text; the other
    columns are float, integer (numpy or nullable) or boolean by their dtype.
    Otherwise the categorical columns as indices, names or a boolean mask,
    whatever their dtype (integer codes, say). A category is modelled as one
    coordinate per category seen at fit (user guide, "Mixed tables").""",
    "compute": """\
device : {{"auto", "cpu", "cuda"}} or str, default={device}
    Torch device; "auto" uses CUDA when available.
dtype : {{"float64", "float32"}}, default={dtype}
    Precision of the torch computations. float64 keeps every row's result
    independent of the batch it is computed in (to ~1e-16); float32 is
    several times faster on the CPU and the usual choice on a GPU, with
    results that move by ~1e-7 relative between batchings.
inference_batch_size : int, default={inference_batch_size}
    Rows evaluated at once by the methods that score, sample or impute: their
    working memory beyond the input and the output grows with it, not with
    the number of rows.
random_state : int, RandomState instance or None, default={random_state}
    Seeds everything random in the fit and the draws through private
    generators; the global RNG state is untouched.
verbose : int, default={verbose}
    Show a progress bar with the current loss.""",
    "imputer": """\
missing_values : float or int, default={missing_values}
    The placeholder for missing values.
add_indicator : bool, default={add_indicator}
    Append :class:`~sklearn.impute.MissingIndicator` columns.
keep_empty_features : bool, default={keep_empty_features}
    Keep columns with no observed value at fit time (filled with 0); by
    default they are dropped from the output, as in scikit-learn.""",
    "imputer_attributes": """\
mean_, scale_, data_min_, data_max_ : ndarray of shape (n_modelled_features,)
    Mean, standard deviation, minimum and maximum of each modelled column's
    observed training entries.
empty_features_, constant_features_, modelled_features_ : ndarray of int
    Columns with no observed value at fit time, columns whose observed
    entries all take one value (filled with it, not modelled), and the others.
constant_values_ : ndarray of shape (n_constant_features,)
    The value of each constant column.
codec_ : ColumnCodec
    The map of the modelled columns to model coordinates
    (:class:`~flowimpute.preprocessing.codec.ColumnCodec`).
""" + _FITTED,
    "importance": """\
likelihood : {{"gaussian", "student_t"}}, default={likelihood}
    The decoder's per-column likelihood ("student_t" learns its degrees
    of freedom, at least 3, per column and row).
n_importance : int, default={n_importance}
    Importance draws per row in the training bound.
n_draws : int, default={n_draws}
    Importance draws per row for imputation and scoring.
missing_mechanism : {{"mar", "self-masking"}}, default={missing_mechanism}
    "self-masking" learns, jointly with the VAE, a logistic model of each
    column's probability of being missing given its own value (values
    missing not at random, as in not-MIWAE, Ipsen et al. 2021): every
    posterior draw also draws the missing entries, and the bound is on
    ``log p(x_obs, mask)``. The conditional mean is then the weighted
    mean of the drawn entries, and ``score_samples`` includes the log-
    probability of the mask. Needs ``likelihood="gaussian"``.""",
    "importance_attributes": """\
latent_dim_ : int
history_ : dict
    ``"train_loss"`` and ``"validation_loss"``: the negative bound per
    observed entry, per epoch.
n_iter_ : int
mean_noise_ : ndarray of shape (n_draws, ``latent_dim_``)
    The posterior noise of imputation and scoring.
completion_noise_ : ndarray of shape (n_draws, n_modelled_features)
    The noise of the missing entries' draws under ``"self-masking"``.""",
    "base_distribution": """\
base_distribution : {{"normal", "laplace", "mixture"}}, default={base_distribution}
    Distribution of the latent variables. "mixture": a mixture of
    ``n_components`` Gaussians with diagonal covariances, trained with the
    flow and started from k-means on the initial latent rows
    (:class:`~flowimpute.flows.GaussianMixtureBase`), for tables made of
    separate groups.
n_components : int, default={n_components}
    Number of Gaussians of the "mixture" base (ignored otherwise); at most the
    number of training rows.""",
    "training_noise": """\
dequantization : {{"none", "auto"}} or array-like of shape (n_features,), \
default={dequantization}
    Uniform dequantization of discrete columns during training: each training
    batch gets noise ``U(-w/2, w/2)`` on a column of width ``w``, so the flow
    learns a smooth density over the column's grid cells instead of spikes at
    its values. "auto": ``w`` is the grid step of every column with at most
    64 distinct values on one evenly spaced grid (counts, ratings, codes,
    flags), 0 elsewhere; an array gives the widths in the units of ``X``. The
    fitted density is then that of the dequantized data.
noise_std : float, default={noise_std}
    Standard deviation of Gaussian noise added to every standardized training
    batch (noise regularization): it smooths the fitted density at the cost of
    sharpness, which can pay on tables of a few hundred rows.""",
    "density_attributes": """\
module_ : Flow
    The fitted torch module (acts on standardized data).
dequantization_widths_ : ndarray of shape (n_features,)
    The dequantization width of each column (units of ``X``; 0: none).
codec_ : ColumnCodec
    The column scaling (:class:`~flowimpute.preprocessing.codec.ColumnCodec`).
history_ : dict
    ``"train_loss"`` and ``"validation_loss"`` (mean negative log-likelihood
    of standardized data) per epoch.
n_iter_ : int
    Epochs run.
""" + _FITTED,
}


def fill_doc(cls: type) -> type:
    """Put the shared :data:`BLOCKS` into ``cls.__doc__``, indented as the
    placeholder that names each, with the defaults of ``cls.__init__``."""
    defaults = {name: _shown(parameter.default)
                for name, parameter in inspect.signature(cls.__init__).parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    lines = []
    for line in cls.__doc__.splitlines():
        name = line.strip()[1:-1] if line.strip().startswith("{") else None
        if name in BLOCKS:
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(textwrap.indent(BLOCKS[name].format(**defaults), indent))
        else:
            lines.append(line)
    cls.__doc__ = "\n".join(lines)
    return cls


def _shown(default) -> str:
    """A default as numpydoc shows it: strings quoted, NaN as ``np.nan``."""
    if isinstance(default, str):
        return f'"{default}"'
    if isinstance(default, float) and math.isnan(default):
        return "np.nan"
    return str(default)
