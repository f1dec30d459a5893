"""scikit-learn's own estimator checks, run on every flowimpute estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from flowimpute import (
    ACFlowImputer,
    CouplingFlowDensity,
    FlowImputer,
    MaskSearch,
    NAFDensity,
    PlanarFlowDensity,
    ResidualFlowDensity,
    SIReNVAE,
    VAEImputer,
    VFGEncoder,
    VFGImputer,
)

# Small settings: the checks fit hundreds of times on tiny data.
ESTIMATORS = [
    CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=3, random_state=0),
    CouplingFlowDensity(n_layers=3, mask="random", max_epochs=2, random_state=0),
    CouplingFlowDensity(n_layers=2, mask=MaskSearch(search_iter=2, search_steps=2),
                        max_epochs=2, random_state=0),
    NAFDensity(n_flows=2, hidden_dims=(8,), n_transformer_units=4, max_epochs=2,
               random_state=0),
    NAFDensity(n_flows=1, transformer="ddsf", n_transformer_units=4, max_epochs=2,
               random_state=0),
    ResidualFlowDensity(n_blocks=2, hidden_dims=(8,), max_epochs=2, random_state=0),
    ResidualFlowDensity(n_blocks=1, hidden_dims=(16,), adjacency="complete", max_epochs=2,
                        random_state=0),
    PlanarFlowDensity(n_layers=3, max_epochs=2, random_state=0),
    VFGImputer(max_epochs=2, hidden_dims=(8,), aggregation="weighted", random_state=0),
    VFGImputer(max_epochs=2, hidden_dims=(8,), aggregation="weighted",
               missing_mechanism="self-masking",
               random_state=0),
    VFGImputer(n_components=2, random_state=0),
    VFGImputer(n_components=2, missing_mechanism="self-masking", random_state=0),
    VFGEncoder(max_epochs=2, hidden_dims=(8,), n_gap_steps=0, aggregation="weighted",
               random_state=0),
    VFGEncoder(n_components=2, random_state=0),
    VAEImputer(hidden_dims=(8,), n_importance=3, n_draws=4, max_epochs=2, random_state=0),
    VAEImputer(hidden_dims=(8,), posterior_flow="residual", prior_flow="planar",
               n_flow_layers=1, n_importance=3, n_draws=4, max_epochs=2, random_state=0),
    SIReNVAE(latent_variables=2, structure="independent", flow_hidden_dims=(8,),
             hidden_dims=(8,), n_importance=3, n_draws=4, max_epochs=2, random_state=0),
    FlowImputer(ResidualFlowDensity(n_blocks=2, hidden_dims=(8,), max_epochs=2), max_em_iter=1,
                em_epochs=1, n_gradient_steps=5, random_state=0),
    ACFlowImputer(n_layers=2, hidden_dims=(8,), n_components=2, n_draws=4, max_epochs=2,
                  random_state=0),
    ACFlowImputer(n_layers=2, hidden_dims=(8,), n_components=2, n_draws=4, max_epochs=2,
                  missing_mechanism="self-masking", random_state=0),
    FlowImputer(CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=2), max_em_iter=1,
                em_epochs=1, n_gradient_steps=5, random_state=0),
    FlowImputer(CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=2), ensemble_size=2,
                max_em_iter=1, em_epochs=1, n_gradient_steps=5, point_estimate="auto",
                n_mcmc_steps=6, n_mean_chains=2, random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
