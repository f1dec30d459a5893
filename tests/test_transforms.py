"""One generic test suite applied to every transform and to composed flows."""

import numpy as np
import pytest
import torch
from helpers import perturbed

from flowimpute.flows import (
    autoregressive_transform,
    coupling_transform,
    planar_transform,
    residual_transform,
)
from flowimpute.structure.masks import parity_masks, random_masks
from flowimpute.transforms import (
    AffineConstant,
    AffineCoupling,
    AffineTransformer,
    Compose,
    DeepDenseSigmoidalTransformer,
    LULinear,
    MaskedAutoregressive,
    Permutation,
    Planar,
    RationalQuadraticSpline,
    ResidualBlock,
)
from flowimpute.transforms.monotone import monotone_inverse

N_FEATURES = 5

#: A DAG over the five features: 0 -> 2, 1 -> 2, 2 -> 3, 0 -> 4 (feature 1 a root,
#: 3 and 4 leaves); adjacency[i, j] for an edge i -> j.
SMALL_DAG = np.zeros((N_FEATURES, N_FEATURES), dtype=bool)
SMALL_DAG[[0, 1, 2, 0], [2, 2, 3, 4]] = True


def _coupling_flow():
    masks = random_masks(4, N_FEATURES, np.random.RandomState(0))
    return coupling_transform(masks, hidden_dims=(16, 16), activation="tanh",
                              log_scale_bound=2.0)


TRANSFORMS = {
    "affine_constant": lambda: AffineConstant(N_FEATURES),
    "coupling_relu": lambda: AffineCoupling([1, 0, 1, 0, 1], (8,), "relu"),
    "coupling_tanh_two_hidden": lambda: AffineCoupling([0, 0, 1, 1, 0], (8, 8), "tanh"),
    "coupling_no_hidden": lambda: AffineCoupling([1, 1, 1, 1, 0], (), "silu"),
    "lu_linear": lambda: LULinear(N_FEATURES),
    "permutation": lambda: Permutation([3, 0, 4, 1, 2]),
    "reverse": lambda: Permutation.reverse(N_FEATURES),
    "compose": lambda: Compose(AffineConstant(N_FEATURES), Permutation.reverse(N_FEATURES),
                               AffineCoupling([0, 1, 0, 1, 0], (8,), "elu")),
    "coupling_flow_random": _coupling_flow,
    "coupling_flow_parity": lambda: coupling_transform(
        parity_masks(3, N_FEATURES), (16,), "relu", 3.0),
    "made_affine": lambda: MaskedAutoregressive(AffineTransformer(), [2, 0, 4, 1, 3], (16,)),
    "made_dsf": lambda: MaskedAutoregressive(DeepDenseSigmoidalTransformer(6), range(5), (16,)),
    "made_ddsf_no_hidden": lambda: MaskedAutoregressive(
        DeepDenseSigmoidalTransformer(4, n_layers=3), [4, 3, 2, 1, 0], (), "tanh"),
    "naf_flow_affine": lambda: autoregressive_transform(
        N_FEATURES, 3, AffineTransformer(), (16, 16), "relu"),
    "naf_flow_dsf": lambda: autoregressive_transform(
        N_FEATURES, 2, DeepDenseSigmoidalTransformer(8), (16, 16), "elu"),
    "naf_flow_ddsf": lambda: autoregressive_transform(
        N_FEATURES, 2, DeepDenseSigmoidalTransformer(8, n_layers=2), (16,), "relu"),
    # bound 3: the test rows (sd 2, tails at 8) reach both the spline and its linear tails
    "made_spline": lambda: MaskedAutoregressive(RationalQuadraticSpline(6, bound=3.0),
                                                [1, 3, 0, 2, 4], (16,)),
    "naf_flow_spline": lambda: autoregressive_transform(
        N_FEATURES, 2, RationalQuadraticSpline(8), (16, 16), "relu"),
    "residual_dense": lambda: ResidualBlock(N_FEATURES, (16,)),
    "residual_dense_two_hidden": lambda: ResidualBlock(N_FEATURES, (16, 12), lipschitz=0.9),
    "residual_graph": lambda: ResidualBlock(N_FEATURES, (16,), adjacency=SMALL_DAG),
    "residual_graph_two_hidden": lambda: ResidualBlock(N_FEATURES, (8, 8), adjacency=SMALL_DAG),
    "residual_flow": lambda: residual_transform(N_FEATURES, 3, (16,)),
    "residual_flow_graph": lambda: residual_transform(N_FEATURES, 3, (16,), SMALL_DAG),
    "planar": lambda: Planar(N_FEATURES),
    "planar_flow": lambda: planar_transform(N_FEATURES, 6),
}


#: Sigmoidal transformers get a smaller random perturbation: with raw slopes
#: far from 0 a unit's slope (softplus) nears 0, the map flattens outside a
#: narrow band, and the preimage of y ~ N(0, 2^2) runs to |x| ~ 1e3, which
#: sends the next features' conditioners far outside anything training sees.
#: Splines likewise: large raw parameters give bins with slopes near 1e-7,
#: where inverting to 1e-6 is beyond float64 (the error is dy / slope).
PERTURBATION_SCALE = {"made_dsf": 0.1, "made_ddsf_no_hidden": 0.1,
                      "naf_flow_dsf": 0.1, "naf_flow_ddsf": 0.1,
                      "made_spline": 0.1, "naf_flow_spline": 0.1}


@pytest.fixture(params=sorted(TRANSFORMS))
def transform(request):
    """A perturbed transform in evaluation mode (where a residual block's
    spectral norms are exact and its forward pass has no state to update)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return perturbed(TRANSFORMS[request.param](),
                          scale=PERTURBATION_SCALE.get(request.param, 0.5)).eval()


@pytest.fixture
def x():
    return torch.randn(64, N_FEATURES, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64) * 2.0


def test_round_trip(transform, x):
    y, _ = transform(x)
    torch.testing.assert_close(transform.inverse(y), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(transform(transform.inverse(x))[0], x, atol=1e-6, rtol=0)


@pytest.fixture
def x_tails():
    """Rows with every entry at +-8 (8 standard deviations of standardized data)."""
    signs = torch.randint(0, 2, (16, N_FEATURES), generator=torch.Generator().manual_seed(2))
    return (2.0 * signs - 1.0).double() * 8.0


def test_round_trip_in_the_tails(transform, x_tails):
    y, log_det = transform(x_tails)
    assert torch.isfinite(y).all() and torch.isfinite(log_det).all()
    torch.testing.assert_close(transform.inverse(y), x_tails, atol=1e-6, rtol=0)


def test_log_det_matches_autograd_jacobian(transform, x, x_tails):
    rows = torch.cat([x[:8], x_tails[:4]])
    _, log_det = transform(rows)
    for row, expected in zip(rows, log_det, strict=True):
        jacobian = torch.autograd.functional.jacobian(
            lambda r: transform(r.unsqueeze(0))[0].squeeze(0), row)
        torch.testing.assert_close(expected, torch.linalg.slogdet(jacobian)[1],
                                   atol=1e-8, rtol=1e-8)


def test_gradients_reach_every_parameter(transform, x):
    parameters = list(transform.parameters())
    if not parameters:
        pytest.skip("transform has no parameters")
    y, log_det = transform(x)
    (y.pow(2).sum() + log_det.sum()).backward()
    for name, parameter in transform.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_rows_are_independent(transform, x):
    y, log_det = transform(x)
    for start in range(0, x.shape[0], 7):
        y_part, log_det_part = transform(x[start:start + 7])
        # float64 round-off only: outputs can reach 1e4 after stacked scales.
        torch.testing.assert_close(y_part, y[start:start + 7], atol=1e-12, rtol=1e-12)
        torch.testing.assert_close(log_det_part, log_det[start:start + 7],
                                   atol=1e-12, rtol=1e-12)


def test_initialize_returns_forward_output(transform, x):
    out = transform.initialize(x)
    torch.testing.assert_close(out, transform(x)[0])


def test_flags_say_what_a_transform_can_do(transform):
    assert transform.has_inverse and transform.exact_log_det


# ------------------------------------------------ transforms given a context
N_CONTEXT = 3
#: Edges from the three context features to the five features:
#: context 0 -> 1, 2; context 1 -> 4; context 2 -> none.
CONTEXT_EDGES = np.zeros((N_CONTEXT, N_FEATURES), dtype=bool)
CONTEXT_EDGES[[0, 0, 1], [1, 2, 4]] = True

CONDITIONAL_TRANSFORMS = {
    "coupling": lambda: AffineCoupling([1, 0, 1, 0, 1], (8,), "tanh",
                                       context_features=N_CONTEXT),
    "coupling_no_hidden": lambda: AffineCoupling([0, 1, 1, 0, 0], (), "relu",
                                                 context_features=N_CONTEXT),
    "made_affine": lambda: MaskedAutoregressive(AffineTransformer(), [2, 0, 4, 1, 3], (16,),
                                                context_features=N_CONTEXT),
    "made_spline_no_hidden": lambda: MaskedAutoregressive(
        RationalQuadraticSpline(4, bound=3.0), range(5), (), context_features=N_CONTEXT),
    "residual": lambda: ResidualBlock(N_FEATURES, (16,), context_features=N_CONTEXT),
    "residual_graph": lambda: ResidualBlock(N_FEATURES, (16,), adjacency=SMALL_DAG,
                                            context_features=N_CONTEXT),
    "residual_graph_context_graph": lambda: ResidualBlock(
        N_FEATURES, (16,), adjacency=SMALL_DAG, context_features=N_CONTEXT,
        context_adjacency=CONTEXT_EDGES),
    "planar": lambda: Planar(N_FEATURES, context_features=N_CONTEXT),
    "compose": lambda: Compose(
        AffineConstant(N_FEATURES), LULinear(N_FEATURES),
        AffineCoupling([0, 1, 0, 1, 0], (8,), "elu", context_features=N_CONTEXT),
        MaskedAutoregressive(DeepDenseSigmoidalTransformer(4), range(5), (8,),
                             context_features=N_CONTEXT)),
}


@pytest.fixture(params=sorted(CONDITIONAL_TRANSFORMS))
def conditional(request):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return perturbed(CONDITIONAL_TRANSFORMS[request.param](), scale=0.1).eval()


@pytest.fixture
def context():
    return torch.randn(64, N_CONTEXT, generator=torch.Generator().manual_seed(4),
                       dtype=torch.float64)


def test_conditional_round_trip(conditional, x, context):
    y, _ = conditional(x, context)
    torch.testing.assert_close(conditional.inverse(y, context), x, atol=1e-6, rtol=0)


def test_conditional_log_det_matches_autograd_jacobian(conditional, x, context):
    _, log_det = conditional(x[:6], context[:6])
    for row, row_context, expected in zip(x[:6], context[:6], log_det, strict=True):
        jacobian = torch.autograd.functional.jacobian(
            lambda r, c=row_context: conditional(r.unsqueeze(0), c.unsqueeze(0))[0][0], row)
        torch.testing.assert_close(expected, torch.linalg.slogdet(jacobian)[1],
                                   atol=1e-8, rtol=1e-8)


def test_conditional_output_depends_on_the_context_row_by_row(conditional, x, context):
    y, log_det = conditional(x, context)
    y_other, _ = conditional(x, context.flip(0))
    assert not torch.allclose(y, y_other)
    y_part, log_det_part = conditional(x[5:12], context[5:12])
    torch.testing.assert_close(y_part, y[5:12], atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(log_det_part, log_det[5:12], atol=1e-12, rtol=1e-12)


def test_a_conditional_transform_refuses_a_missing_context(conditional, x):
    with pytest.raises(ValueError, match="needs a context"):
        conditional(x)


def test_affine_constant_initialize_standardizes():
    layer = AffineConstant(3).double()
    data = torch.randn(500, 3, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1]) + 7.0
    out = layer.initialize(data)
    torch.testing.assert_close(out.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-10, rtol=0)
    torch.testing.assert_close(out.std(0, unbiased=False), torch.ones(3, dtype=torch.float64),
                               atol=1e-10, rtol=0)


def test_fresh_coupling_is_identity(x):
    layer = AffineCoupling([1, 0, 1, 0, 1]).double()
    y, log_det = layer(x)
    torch.testing.assert_close(y, x)
    torch.testing.assert_close(log_det, torch.zeros(x.shape[0], dtype=torch.float64))


def test_coupling_log_scale_is_bounded(x):
    layer = perturbed(AffineCoupling([1, 0, 1, 0, 1], (8,), log_scale_bound=1.5), scale=50.0)
    _, log_det = layer(x * 100)
    assert log_det.abs().max() <= 3 * 1.5 + 1e-9


@pytest.mark.parametrize("mask, message", [
    ([1, 1, 1], "at least one transformed"),
    ([0, 0, 0], "at least one transformed"),
    ([0, 2, 1], "only 0 and 1"),
])
def test_coupling_rejects_bad_masks(mask, message):
    with pytest.raises(ValueError, match=message):
        AffineCoupling(mask)


def test_permutation_rejects_non_permutation():
    with pytest.raises(ValueError, match="exactly once"):
        Permutation([0, 0, 1])


# ------------------------------------------------------- the spline transformer
def _spline_params(n_rows, spline, seed=3, scale=2.0):
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n_rows, spline.n_params, generator=generator, dtype=torch.float64)


def test_spline_with_zero_params_is_the_identity():
    spline = RationalQuadraticSpline(5, bound=2.0)
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    y, log_derivative = spline(x, torch.zeros(101, spline.n_params, dtype=torch.float64))
    torch.testing.assert_close(y, x, atol=1e-12, rtol=0)
    torch.testing.assert_close(log_derivative, torch.zeros_like(x), atol=1e-12, rtol=0)


def test_spline_inverse_agrees_with_numerical_inversion():
    spline = RationalQuadraticSpline(8, bound=3.0)
    params = _spline_params(400, spline, scale=1.0)
    y = torch.linspace(-5, 5, 400, dtype=torch.float64)
    closed_form = spline.inverse(y, params)
    torch.testing.assert_close(spline(closed_form, params)[0], y, atol=1e-12, rtol=0)
    numerical = monotone_inverse(lambda x: spline(x, params), y)
    torch.testing.assert_close(closed_form, numerical, atol=1e-8, rtol=0)


def test_spline_is_continuous_with_its_slope_at_knots_and_tails():
    """Value and log-slope just left and right of every knot (the ends
    +-bound included, where the tails begin with slope 1) agree."""
    spline = RationalQuadraticSpline(6, bound=2.0)
    params = _spline_params(1, spline, scale=1.0)
    knots = spline._spline(params)[0][0]
    eps = 1e-9
    for knot in knots.tolist():
        points = torch.tensor([knot - eps, knot + eps], dtype=torch.float64)
        y, log_derivative = spline(points, params.expand(2, -1))
        assert abs(float(y[1] - y[0])) < 1e-7
        assert abs(float(log_derivative[1] - log_derivative[0])) < 1e-5


def test_spline_maps_its_interval_onto_itself_and_is_increasing():
    spline = RationalQuadraticSpline(10, bound=4.0)
    params = _spline_params(1, spline, scale=4.0).expand(2001, -1)
    x = torch.linspace(-4, 4, 2001, dtype=torch.float64)
    y, _ = spline(x, params)
    assert float(y[0]) == pytest.approx(-4.0, abs=1e-12)
    assert float(y[-1]) == pytest.approx(4.0, abs=1e-12)
    assert bool((y[1:] > y[:-1]).all())


@pytest.mark.parametrize("n_bins, bound, message", [
    (0, 3.0, "n_bins must be >= 1"), (4, 0.0, "bound must be > 0")])
def test_spline_rejects_bad_settings(n_bins, bound, message):
    with pytest.raises(ValueError, match=message):
        RationalQuadraticSpline(n_bins, bound)


def test_monotone_inverse_escapes_newton_cycles():
    """Near a root where the slope is infinite (a square-root bend), Newton
    steps jump from one side of the root to the other and back, staying
    inside the bracket; bisection must take over."""
    root = 0.3

    def bend(x):
        u = x - root
        return torch.sign(u) * u.abs().sqrt() + 1e-3 * u, torch.log(0.5 / u.abs().sqrt() + 1e-3)

    y = torch.tensor([0.0, 0.2, -0.5], dtype=torch.float64)
    x = monotone_inverse(bend, y)
    torch.testing.assert_close(bend(x)[0], y, atol=1e-12, rtol=0)
    assert float(x[0]) == pytest.approx(root, abs=1e-12)
