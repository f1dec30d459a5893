import copy

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import with_gaps
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from flowimpute import VFGImputer

# The paper's averaging model; without sections or a graph the default
# ("auto") would be the concatenating root, tested at the end of the file.
FAST = dict(max_epochs=4, hidden_dims=(8,), random_state=0, aggregation="weighted")


@pytest.fixture(scope="module")
def fitted(correlated):
    return VFGImputer(**FAST).fit(with_gaps(correlated, 0.2, 0))


@pytest.fixture(scope="module")
def fitted_paper(correlated):
    return VFGImputer(section_model="paper", **FAST).fit(with_gaps(correlated, 0.2, 0))


def _mcar_errors(correlated, **params):
    """Test-set MSE of VFG and of the column means on 30% MCAR gaps."""
    X_train = with_gaps(correlated[:300], 0.2, 5)
    X_test = correlated[300:]
    hidden = np.random.RandomState(6).rand(*X_test.shape) < 0.3
    X_missing = np.where(hidden, np.nan, X_test)
    vfg = VFGImputer(**{"max_epochs": 30, "random_state": 0, "aggregation": "weighted",
                        **params}).fit(X_train).transform(X_missing)
    mean = SimpleImputer().fit(X_train).transform(X_missing)
    return (np.mean((vfg[hidden] - X_test[hidden]) ** 2),
            np.mean((mean[hidden] - X_test[hidden]) ** 2))


def test_learns_more_than_the_column_means(correlated):
    vfg_error, mean_error = _mcar_errors(correlated, sections=[[0, 1], [2, 3], [4, 5]])
    assert vfg_error < 0.6 * mean_error


def test_learns_more_than_the_column_means_with_automatic_sections(correlated):
    # The grouping once cut a dendrogram's leaf order and mixed both factors
    # into two sections, [[0, 4], [1, 5], [2, 3]]; the model then did no
    # better than the column means.
    imputer = VFGImputer(max_epochs=1, aggregation="weighted").fit(
        with_gaps(correlated[:300], 0.2, 5))
    assert sorted(map(tuple, imputer.sections_)) == [(0, 1), (2, 3), (4, 5)]
    vfg_error, mean_error = _mcar_errors(correlated)
    assert vfg_error < 0.6 * mean_error


def test_structure_attributes_and_named_sections(correlated):
    frame = pd.DataFrame(correlated, columns=list("abcdef"))
    imputer = VFGImputer(sections=[["a", "b"], ["c", "d"], ["e", "f"]], graph=[0, [1, 2]],
                         **FAST).fit(frame)
    assert [s.tolist() for s in imputer.sections_] == [[0, 1], [2, 3], [4, 5]]
    assert imputer.graph_.parents == ((4,), (3,), (3,), (4,), ())
    assert imputer.latent_dim_ == 2


def test_unequal_sections_are_padded(correlated):
    X = with_gaps(correlated, 0.2, 7)
    imputer = VFGImputer(sections=[[0], [1, 2, 3], [4, 5]], **FAST).fit(X)
    assert imputer.latent_dim_ == 3
    assert not np.isnan(imputer.transform(X)).any()


def test_padding_noise_changes_training_only_where_sections_are_padded(correlated):
    X = with_gaps(correlated, 0.2, 7)

    def imputed(sections, padding):
        return VFGImputer(sections=sections, padding=padding, **FAST).fit(X).transform(X)

    equal = [[0, 1], [2, 3], [4, 5]]
    np.testing.assert_array_equal(imputed(equal, "noise"), imputed(equal, "zeros"))
    unequal = [[0], [1, 2, 3], [4, 5]]
    noise = imputed(unequal, "noise")
    assert not np.array_equal(noise, imputed(unequal, "zeros"))
    np.testing.assert_array_equal(noise, imputed(unequal, "noise"))


def test_column_weights_scale_each_column_in_training(correlated):
    X = with_gaps(correlated, 0.2, 7)
    X[:, 0] *= 100.0    # one column far wider than the others

    def fitted_with(weights):
        return VFGImputer(sections=[[0, 1], [2, 3], [4, 5]], column_weights=weights,
                          **FAST).fit(X)

    equal = fitted_with("equal")
    np.testing.assert_array_equal(equal.column_weights_, np.ones(6))
    # Weights are rescaled to mean 1, so any constant is "equal".
    np.testing.assert_array_equal(equal.transform(X), fitted_with(np.full(6, 3.0)).transform(X))
    variance = fitted_with("variance")
    spread = np.nanvar(X, axis=0)
    np.testing.assert_allclose(variance.column_weights_, spread / spread.mean())
    assert not np.array_equal(variance.transform(X), equal.transform(X))
    np.testing.assert_array_equal(variance.transform(X), fitted_with("variance").transform(X))


@pytest.mark.parametrize("weights, message", [
    (np.ones(5), "expected \\(6,\\)"),
    (np.array([1.0, -1, 1, 1, 1, 1]), "nonnegative"),
    (np.array([1.0, np.nan, 1, 1, 1, 1]), "finite"),
    (np.zeros(6), "every modelled column weight 0"),
    (["a"] * 6, "one number per input column"),
])
def test_column_weights_are_checked(correlated, weights, message):
    with pytest.raises(ValueError, match=message):
        VFGImputer(column_weights=weights, **FAST).fit(correlated)


def test_entry_weights_scale_only_the_reconstruction_terms(correlated, fitted):
    complete = fitted._to_tensor(fitted.codec_.standardize(correlated[:50]))
    leaves, entry_observed = fitted.layout_.leaves(complete, torch.ones(50, 6, dtype=torch.bool))
    every_section = torch.ones(leaves.shape[:2], dtype=torch.bool)

    def per_row(scale):
        weights = None if scale is None else torch.full(leaves.shape[1:], scale,
                                                        dtype=leaves.dtype)
        with torch.no_grad():
            return fitted.module_.elbo_terms(leaves, every_section, entry_observed,
                                             entry_weights=weights)[0].numpy()

    np.testing.assert_array_equal(per_row(None), per_row(1.0))
    reconstruction = per_row(1.0) - per_row(0.0)
    assert (reconstruction > 0).all()
    np.testing.assert_allclose(per_row(3.0) - per_row(1.0), 2 * reconstruction, rtol=1e-10)


def test_pipeline_grid_search_over_depth(correlated):
    X = with_gaps(correlated[:, :5], 0.2, 9)
    y = correlated[:, 5]
    pipeline = Pipeline([("impute", VFGImputer(**FAST)), ("model", Ridge())])
    search = GridSearchCV(pipeline, {"impute__n_coupling_layers": [1, 2]}, cv=2).fit(X, y)
    assert search.best_params_["impute__n_coupling_layers"] in (1, 2)


def test_sections_must_cover_columns_exactly_once(correlated):
    with pytest.raises(ValueError, match="exactly once"):
        VFGImputer(sections=[[0, 1], [1, 2, 3, 4, 5]], **FAST).fit(correlated)


def test_latent_dim_smaller_than_a_section(correlated):
    with pytest.raises(ValueError, match="smaller than the widest section"):
        VFGImputer(sections=[[0, 1, 2], [3, 4, 5]], latent_dim=2, **FAST).fit(correlated)


def test_score_samples_is_finite_and_ranks_outliers_low(correlated, fitted):
    scores = fitted.score_samples(correlated[:100])
    assert scores.shape == (100,) and np.isfinite(scores).all()
    outlier = correlated[:1].copy()
    outlier[0, 0] = correlated[:, 0].max() + 5 * correlated[:, 0].std()
    outlier[0, 2] = correlated[:, 2].min() - 5 * correlated[:, 2].std()
    assert fitted.score_samples(outlier)[0] < np.percentile(scores, 5)
    assert np.isfinite(fitted.score_samples(with_gaps(correlated[:20], 0.3, 13))).all()


@pytest.mark.parametrize("aggregation, distribution, decode_from", [
    ("mean", "gaussian", "root"), ("weighted", "laplace", "ancestor")])
def test_model_variants_run(correlated, aggregation, distribution, decode_from):
    X = with_gaps(correlated, 0.3, 11)
    out = VFGImputer(**{**FAST, "aggregation": aggregation}, latent_distribution=distribution,
                     decode_from=decode_from, graph=[[0, 1], 2]).fit_transform(X)
    assert not np.isnan(out).any()


def test_n_init_keeps_the_initialization_that_imputes_best(correlated):
    X = with_gaps(correlated, 0.2, 0)
    several = VFGImputer(**{**FAST, "n_init": 3}).fit(X)
    assert several.init_errors_.shape == (3,) and np.isfinite(several.init_errors_).all()
    assert len(set(np.round(several.init_errors_, 12))) == 3   # different initializations
    kept = int(np.argmin(several.init_errors_))
    # The kept model is the attempt-th fit: refitting that attempt alone (same
    # seed offset) gives the same parameters.
    one = VFGImputer(**{**FAST, "n_init": 1}).fit(X)
    if kept == 0:
        np.testing.assert_array_equal(several.transform(X), one.transform(X))
    else:
        assert not np.array_equal(several.transform(X), one.transform(X))
    assert np.isnan(one.init_errors_).all()
    np.testing.assert_array_equal(
        several.transform(X), VFGImputer(**{**FAST, "n_init": 3}).fit(X).transform(X))


def test_gap_search_lowers_the_negative_elbo_of_partial_sections(correlated, fitted_paper):
    X = correlated[:200].copy()
    X[:, 1] = np.nan    # the section of column 1 is partially observed in every row
    refined_only = copy.deepcopy(fitted_paper).set_params(n_gap_steps=0).transform(X)
    searched = copy.deepcopy(fitted_paper).set_params(n_gap_steps=25).transform(X)
    observed = torch.as_tensor(~np.isnan(X))

    def negative_elbo(X_imputed):
        complete = fitted_paper._to_tensor(fitted_paper.codec_.standardize(X_imputed))
        leaves, entry_observed = fitted_paper.layout_.leaves(complete, observed)
        every_section = torch.ones(leaves.shape[:2], dtype=torch.bool)
        with torch.no_grad():
            per_row, _ = fitted_paper.module_.elbo_terms(leaves, every_section, entry_observed)
        return per_row.numpy()

    assert negative_elbo(searched).mean() < negative_elbo(refined_only).mean()
    assert not np.allclose(searched[:, 1], refined_only[:, 1])
    np.testing.assert_array_equal(np.delete(searched, 1, axis=1), np.delete(X, 1, axis=1))


def test_gap_steps_are_chosen_per_column_or_fixed(correlated, fitted, fitted_paper):
    from flowimpute.impute.vfg_imputer import GAP_STEP_CANDIDATES
    assert fitted_paper.gap_steps_.shape == (6,)
    assert set(fitted_paper.gap_steps_) <= set(GAP_STEP_CANDIDATES)
    assert fitted.gap_steps_ is None    # the section Gaussian fills gaps without a search
    fixed = VFGImputer(**{**FAST, "n_gap_steps": 3, "section_model": "paper"}).fit(
        with_gaps(correlated, 0.2, 0))
    assert fixed.gap_steps_ is None
    with pytest.raises(ValueError, match="refit"):
        fixed.set_params(n_gap_steps="auto").transform(with_gaps(correlated, 0.2, 1))


def test_sections_named_in_a_dict_can_be_named_in_the_graph(correlated):
    frame = with_gaps(pd.DataFrame(correlated, columns=list("abcdef")), 0.2, 3)
    by_index = VFGImputer(sections=[["a", "b"], ["c", "d"], ["e", "f"]],
                          graph={"x": [0, 1], "y": [1, 2]}, **FAST).fit(frame)
    named = VFGImputer(sections={"first": ["a", "b"], "second": ["c", "d"],
                                 "third": ["e", "f"]},
                       graph={"x": ["first", "second"], "y": [1, "third"]}, **FAST).fit(frame)
    assert named.graph_.names == ("first", "second", "third", "x", "y")
    assert named.graph_.parents == by_index.graph_.parents
    np.testing.assert_array_equal(named.transform(frame), by_index.transform(frame))
    tree = VFGImputer(sections={"first": ["a", "b"], "second": ["c", "d"], "third": ["e", "f"]},
                      graph=["first", ["second", "third"]], **FAST).fit(frame)
    assert tree.graph_.parents == ((4,), (3,), (3,), (4,), ())
    automatic = VFGImputer(sections={"p": [0, 1], "q": [2, 3], "r": [4, 5]}, **FAST).fit(frame)
    assert automatic.graph_.names[:3] == ("p", "q", "r")


@pytest.mark.parametrize("sections, graph, message", [
    ({"first": [0, 1, 2], "x": [3, 4, 5]}, {"x": ["first", 1]}, "has the name of a section"),
    ({"first": [0, 1, 2], "second": [3, 4, 5]}, {"x": ["first", 0, 1]}, "names a child twice"),
    ({"first": [0, 1, 2], "second": [3, 4, 5]}, {"x": ["first"]},
     r"sections \['second'\] have no parent"),
    ({"first": [0, 1, 2], "second": [3, 4, 5]}, ["first", "third"], "not a section name"),
    ([[0, 1, 2], [3, 4, 5]], ["first", 1], "sections are given by index"),
    ({0: [0, 1, 2], "second": [3, 4, 5]}, None, "need names"),
])
def test_bad_section_names_are_explained(correlated, sections, graph, message):
    with pytest.raises(ValueError, match=message):
        VFGImputer(sections=sections, graph=graph, **FAST).fit(correlated)


@pytest.mark.parametrize("section_model", ["conditional", "paper"])
def test_a_tree_given_as_a_dag_gives_the_same_imputations(correlated, section_model):
    X = with_gaps(correlated, 0.2, 3)
    sections = [[0, 1], [2, 3], [4, 5]]
    nested = VFGImputer(sections=sections, graph=[0, [1, 2]], section_model=section_model,
                        **FAST).fit(X)
    mapping = VFGImputer(sections=sections, graph={"root": [0, "pair"], "pair": [1, 2]},
                         section_model=section_model, **FAST).fit(X)
    np.testing.assert_array_equal(nested.transform(X), mapping.transform(X))
    np.testing.assert_array_equal(nested.score_samples(X), mapping.score_samples(X))
    np.testing.assert_array_equal(nested.sample_imputations(X, 2, random_state=0),
                                  mapping.sample_imputations(X, 2, random_state=0))


def test_a_dag_with_a_shared_section_and_two_roots(correlated):
    X = with_gaps(correlated, 0.25, 4)
    dag = {"a": [0, 1], "b": [1, 2]}
    imputer = VFGImputer(sections=[[0, 1], [2, 3], [4, 5]], graph=dag, **FAST).fit(X)
    assert imputer.graph_.roots == (3, 4) and imputer.graph_.parents[1] == (3, 4)
    assert imputer.module_.edges.n_edges == 4
    out = imputer.transform(X)
    observed = ~np.isnan(X)
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out[observed], X[observed])
    draws = imputer.sample_imputations(X, 3, random_state=1)
    assert draws.shape == (3, *X.shape) and not np.isnan(draws).any()
    assert (draws.std(axis=0)[~observed] > 0).mean() > 0.9
    assert np.isfinite(imputer.score_samples(X)).all()
    np.testing.assert_array_equal(
        out, VFGImputer(sections=[[0, 1], [2, 3], [4, 5]], graph=dag, **FAST).fit(X).transform(X))


def test_a_section_with_two_parents_is_decoded_as_their_average(correlated, fitted):
    dag = VFGImputer(sections=[[0, 1], [2, 3], [4, 5]], graph={"a": [0, 1], "b": [1, 2]},
                     **FAST).fit(with_gaps(correlated, 0.2, 0))
    model = dag.module_
    leaves = torch.as_tensor(correlated[:5].reshape(5, 3, 2))
    messages = model.encode(leaves, torch.ones(5, 3, dtype=torch.bool))
    decoded = model.decode(messages)
    from_a = model.edges.inverse(messages.states[3][None], torch.tensor([1]))[0]
    from_b = model.edges.inverse(messages.states[4][None], torch.tensor([2]))[0]
    torch.testing.assert_close(decoded[1], (from_a + from_b) / 2)


@pytest.mark.parametrize("graph, message", [
    ({"a": ["b", 0], "b": ["a", 1, 2]}, "cycle"),
    ({"a": [0, 1]}, "no parent"),
])
def test_bad_graphs_are_refused_at_fit(correlated, graph, message):
    with pytest.raises(ValueError, match=message):
        VFGImputer(sections=[[0, 1], [2, 3], [4, 5]], graph=graph, **FAST).fit(correlated)


def test_encode_returns_the_states_of_the_chosen_nodes(correlated, fitted):
    X = with_gaps(correlated[:50], 0.2, 8)
    roots = fitted.encode(X)
    assert roots.shape == (50, fitted.latent_dim_) and np.isfinite(roots).all()
    np.testing.assert_array_equal(roots, fitted.encode(X, nodes="root"))
    np.testing.assert_array_equal(roots, fitted.encode(X, nodes=[fitted.graph_.roots[0]]))
    with pytest.raises(ValueError, match="not an aggregation node"):
        fitted.encode(X, nodes=["section 0"])
    with pytest.raises(ValueError, match="not an aggregation node"):
        fitted.encode(X, nodes="nowhere")


def test_encoder_in_a_pipeline_with_pandas_output(correlated):
    from sklearn.linear_model import LogisticRegression

    from flowimpute import VFGEncoder
    frame = pd.DataFrame(with_gaps(correlated, 0.2, 2), columns=list("abcdef"))
    y = correlated[:, 0] > 0
    encoder = VFGEncoder(sections=[["a", "b"], ["c", "d"], ["e", "f"]],
                         graph={"left": [0, 1], "right": [1, 2]}, **FAST)
    states = encoder.set_output(transform="pandas").fit_transform(frame)
    assert list(states.columns) == ["left_0", "left_1", "right_0", "right_1"]
    assert states.index.equals(frame.index)
    pipeline = Pipeline([("encode", VFGEncoder(**{**FAST, "max_epochs": 20})),
                         ("classify", LogisticRegression())])
    majority = max(y.mean(), 1 - y.mean())
    assert pipeline.fit(frame, y).score(frame, y) > majority + 0.2


def test_a_label_prior_pulls_each_class_together(correlated):
    from flowimpute import VFGEncoder
    X = with_gaps(correlated, 0.1, 12)
    y = np.where(correlated[:, 2] > 0, "up", "down")

    def separation(prior):
        encoder = VFGEncoder(sections=[[0, 1], [2, 3], [4, 5]], prior=prior, max_epochs=20,
                             random_state=0).fit(X, y)
        states = encoder.transform(X)
        means = [states[y == label].mean(axis=0) for label in ("up", "down")]
        spread = np.sqrt(np.mean([states[y == label].var(axis=0).sum()
                                  for label in ("up", "down")]))
        return np.linalg.norm(means[0] - means[1]) / spread, encoder

    unlabelled, _ = separation("standard")
    labelled, encoder = separation("label")
    assert labelled > unlabelled
    # each class's states lie nearest its own learned prior mean
    means = encoder.module_.prior_means.detach().numpy()[:, 0]
    states = encoder.transform(X)
    nearest = ((states[:, None] - means[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (encoder.classes_[nearest] == y).mean() > 0.85
    assert list(encoder.classes_) == ["down", "up"]
    np.testing.assert_allclose(encoder.module_.log_class_weights.exp().sum().item(), 1.0)
    scores = encoder.score_samples(X[:20], y[:20])
    assert np.isfinite(scores).all() and np.isfinite(encoder.score_samples(X[:20])).all()
    swapped = encoder.score_samples(X[:20], np.where(y[:20] == "up", "down", "up"))
    assert scores.mean() > swapped.mean()  # the right class's prior fits better


def test_label_prior_errors(correlated):
    y = np.where(correlated[:, 0] > 0, 1, 0)
    with pytest.raises(ValueError, match=r"fit\(X, y\)"):
        VFGImputer(prior="label", **FAST).fit(correlated)
    with pytest.raises(ValueError, match="labels for"):
        VFGImputer(prior="label", **FAST).fit(correlated, y[:10])
    with pytest.raises(ValueError, match="missing labels"):
        VFGImputer(prior="label", **FAST).fit(correlated, np.where(y == 1, np.nan, 0.0))
    imputer = VFGImputer(prior="label", **FAST).fit(correlated, y)
    assert not np.isnan(imputer.transform(with_gaps(correlated, 0.3, 1))).any()
    with pytest.raises(ValueError, match=r"classes \[2\] not seen at fit"):
        imputer.score_samples(correlated[:3], [0, 1, 2])
    with pytest.raises(ValueError, match='prior="label"'):
        VFGImputer(**FAST).fit(correlated).score_samples(correlated[:3], [0, 1, 0])


def _pairs(n_rows, seed):
    """Three independent pairs of near-copies: only a column's partner says
    anything about it."""
    rng = np.random.RandomState(seed)
    z = rng.normal(size=(n_rows, 3))
    return np.repeat(z, 2, axis=1) + 0.1 * rng.normal(size=(n_rows, 6))


def test_a_gap_follows_the_value_observed_beside_it():
    X_train, X_test = _pairs(600, 0), _pairs(300, 1)
    X_missing = X_test.copy()
    X_missing[:, 1] = np.nan       # every row keeps column 1's partner, column 0
    fit = with_gaps(X_train, 0.2, 2)
    params = dict(sections=[[0, 1], [2, 3], [4, 5]], max_epochs=30, random_state=0)
    errors = {model: np.mean((VFGImputer(section_model=model, **params).fit(fit).transform(
        X_missing)[:, 1] - X_test[:, 1]) ** 2) for model in ("conditional", "paper")}
    # The partner differs by noise of variance 0.02; the paper's imputation
    # reaches the gap through the root only.
    assert errors["conditional"] < 0.05
    assert errors["conditional"] < 0.5 * errors["paper"]


def test_conditional_draws_are_calibrated():
    X_train, X_test = _pairs(800, 3), _pairs(400, 4)
    hidden = np.random.RandomState(5).rand(*X_test.shape) < 0.3
    imputer = VFGImputer(sections=[[0, 1], [2, 3], [4, 5]], max_epochs=20,
                         random_state=0).fit(with_gaps(X_train, 0.2, 6))
    draws = imputer.sample_imputations(np.where(hidden, np.nan, X_test), 200, random_state=0)
    low, high = np.percentile(draws, [5, 95], axis=0)
    covered = (low[hidden] <= X_test[hidden]) & (X_test[hidden] <= high[hidden])
    assert 0.85 <= covered.mean() <= 0.95
    np.testing.assert_array_equal(draws[:, ~hidden], np.broadcast_to(
        X_test[~hidden], (200, (~hidden).sum())))


def test_self_masking_needs_the_section_gaussian(correlated):
    with pytest.raises(ValueError, match="needs section_model='conditional'"):
        VFGImputer(missing_mechanism="self-masking", section_model="paper",
                   aggregation="weighted", max_epochs=1).fit(with_gaps(correlated, 0.2, 0))


# ------------------------------------------------------ a concatenating root
CONCATENATE = dict(aggregation="concatenate", random_state=0)


@pytest.mark.parametrize("params, resolved", [
    ({}, "concatenate"), (dict(sections=[[0, 1], [2, 3], [4, 5]]), "weighted"),
    (dict(graph=[0, [1, 2]]), "weighted"), (dict(prior="label"), "weighted"),
    (dict(aggregation="mean"), "mean")])
def test_auto_aggregation_concatenates_unless_a_structure_is_given(correlated, params,
                                                                   resolved):
    imputer = VFGImputer(max_epochs=1, hidden_dims=(8,), random_state=0, **params).fit(
        with_gaps(correlated, 0.2, 0), np.arange(len(correlated)) % 2)
    assert imputer.aggregation_ == resolved
    assert (imputer.layout_ is None) == (resolved == "concatenate")


def test_auto_aggregation_keeps_wide_tables_on_the_averaging_model(monkeypatch, correlated):
    monkeypatch.setattr("flowimpute.impute.vfg_imputer.ROOT_MIXTURE_MAX_COORDINATES", 5)
    imputer = VFGImputer(max_epochs=1, hidden_dims=(8,), random_state=0).fit(correlated)
    assert imputer.aggregation_ == "weighted"


@pytest.mark.parametrize("params, message", [
    (dict(sections=[[0, 1], [2, 3]]), "sections must be None"),
    (dict(graph=[0, 1]), "graph must be None"),
    (dict(prior="label"), 'prior="label" needs'),
])
def test_concatenating_root_refuses_what_it_cannot_use(correlated, params, message):
    with pytest.raises(ValueError, match=message):
        VFGImputer(**CONCATENATE, **params).fit(with_gaps(correlated, 0.2, 0),
                                                np.arange(len(correlated)) % 2)


def _gaussian(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    covariance = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.5], [0.3, 0.5, 1.0]])
    mean = np.array([1.0, -2.0, 0.5])
    return rng.multivariate_normal(mean, covariance, n_rows), covariance


def test_concatenating_root_scores_the_exact_marginal_of_a_gaussian():
    from scipy.stats import multivariate_normal
    X, covariance = _gaussian(4000, 0)
    mean = np.array([1.0, -2.0, 0.5])
    train, test = with_gaps(X[:3000], 0.2, 1), with_gaps(X[3000:], 0.3, 2)
    # the default ridge (0.1) widens the Gaussian by a tenth of each variance
    scores = VFGImputer(**CONCATENATE, n_components=1, covariance_ridge=1e-3).fit(
        train).score_samples(test)
    truth = np.array([
        multivariate_normal(mean[keep], covariance[np.ix_(keep, keep)]).logpdf(row[keep])
        if keep.any() else 0.0 for row in test for keep in [~np.isnan(row)]])
    assert np.mean(np.abs(scores - truth)) < 0.05


def test_concatenating_root_imputes_the_conditional_mean_with_calibrated_draws():
    X, covariance = _gaussian(3400, 3)
    mean = np.array([1.0, -2.0, 0.5])
    train, test = X[:3000], X[3000:]
    gaps = with_gaps(test, 0.3, 4)
    imputer = VFGImputer(**CONCATENATE, n_components=1, covariance_ridge=1e-3).fit(
        with_gaps(train, 0.2, 5))
    imputed = imputer.transform(gaps)
    draws = imputer.sample_imputations(gaps, n_imputations=200, random_state=0)
    true_means, inside, hidden_count = [], 0, 0
    for row, full, drawn in zip(gaps, test, np.moveaxis(draws, 1, 0), strict=True):
        hidden = np.isnan(row)
        if not hidden.any() or hidden.all():
            continue
        known = ~hidden
        gain = covariance[np.ix_(hidden, known)] @ np.linalg.inv(
            covariance[np.ix_(known, known)])
        true_means.append(mean[hidden] + gain @ (row[known] - mean[known]))
        lower, upper = np.quantile(drawn[:, hidden], [0.05, 0.95], axis=0)
        inside += np.sum((full[hidden] >= lower) & (full[hidden] <= upper))
        hidden_count += hidden.sum()
    partly = [np.isnan(row).any() and not np.isnan(row).all() for row in gaps]
    point = np.concatenate([imputed[i][np.isnan(gaps[i])] for i in np.flatnonzero(partly)])
    assert np.sqrt(np.mean((point - np.concatenate(true_means)) ** 2)) < 0.1
    assert 0.86 <= inside / hidden_count <= 0.94


def test_concatenating_root_with_self_masking_recovers_hidden_large_values():
    rng = np.random.RandomState(0)
    z = rng.normal(size=(1500, 1))
    X = np.hstack([z + 0.5 * rng.normal(size=(1500, 1)) for _ in range(4)])
    hidden = np.zeros_like(X, dtype=bool)
    hidden[:, :2] = X[:, :2] > 0.3
    gaps = np.where(hidden, np.nan, X)
    errors = {mechanism: np.sqrt(np.mean((VFGImputer(
        **CONCATENATE, n_components=2, missing_mechanism=mechanism).fit_transform(gaps)
        - X)[hidden] ** 2)) for mechanism in ("mar", "self-masking")}
    assert errors["self-masking"] < 0.8 * errors["mar"]
