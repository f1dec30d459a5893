"""Element-wise strictly increasing maps of one scalar, driven by pseudo-parameters.

These are the *transformers* of an autoregressive flow: for each dimension a
conditioner emits a vector of unconstrained pseudo-parameters, and the
transformer turns them into a monotone map of that dimension's value. Every
transformer acts on tensors of any leading shape ``(...)`` with parameters of
shape ``(..., n_params)`` and returns the output together with the log of its
derivative, both of shape ``(...)``.

The sigmoidal transformers (Huang et al., "Neural Autoregressive Flows",
2018) are computed entirely in log space (``logsigmoid`` and log-sum-exp), so
outputs and log-derivatives stay finite and accurate far into the tails,
where a naive ``logit(sum(w * sigmoid(.)))`` rounds to +-inf.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

#: softplus(_SOFTPLUS_ONE) == 1: a zero raw slope gives slope 1.
_SOFTPLUS_ONE = math.log(math.e - 1.0)

#: Smallest slope of a sigmoid unit, so no unit can become flat.
_MIN_SLOPE = 1e-3

#: Slope of the linear term added to every sigmoidal transformer: where all
#: sigmoid units saturate the output would otherwise be flat to float64
#: precision and numerically impossible to invert.
_RESIDUAL_SLOPE = 1e-3
_LOG_RESIDUAL_SLOPE = math.log(_RESIDUAL_SLOPE)

#: Numerical inversion: the bracket grows to this bound before giving up.
INVERSION_BOUND = 1e6


class MonotoneTransformer:
    """Interface: ``n_params``, ``initial_params()``, ``__call__``, ``inverse``."""

    n_params: int

    def initial_params(self) -> Tensor:
        """Pseudo-parameters (n_params,) for a map close to the identity."""
        raise NotImplementedError

    def __call__(self, x: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        """``(y, log dy/dx)`` for ``x`` (...) and ``params`` (..., n_params)."""
        raise NotImplementedError

    def inverse(self, y: Tensor, params: Tensor) -> Tensor:
        """``x`` with ``self(x, params)[0] == y``; numerical by default."""
        return monotone_inverse(lambda x: self(x, params), y)


class AffineTransformer(MonotoneTransformer):
    """``y = x * exp(s) + t`` with ``s = bound * tanh(raw / bound)`` (MAF).

    Parameters
    ----------
    log_scale_bound : float, default=3.0
        Bound on ``|s|``, as in :class:`~flowimpute.transforms.AffineCoupling`.
    """

    n_params = 2

    def __init__(self, log_scale_bound: float = 3.0) -> None:
        self.log_scale_bound = float(log_scale_bound)

    def initial_params(self) -> Tensor:
        return torch.zeros(2)

    def _scale_and_shift(self, params: Tensor) -> tuple[Tensor, Tensor]:
        bound = self.log_scale_bound
        return bound * torch.tanh(params[..., 0] / bound), params[..., 1]

    def __call__(self, x: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        log_scale, shift = self._scale_and_shift(params)
        return x * torch.exp(log_scale) + shift, log_scale

    def inverse(self, y: Tensor, params: Tensor) -> Tensor:
        log_scale, shift = self._scale_and_shift(params)
        return (y - shift) * torch.exp(-log_scale)


class DeepDenseSigmoidalTransformer(MonotoneTransformer):
    """Deep dense sigmoidal flow (DDSF); with one layer, the deep sigmoidal flow (DSF).

    Layer ``l`` maps a positive-Jacobian vector ``h`` (width ``K_in``; 1 for
    the input scalar) to width ``K_out`` (``n_units``; 1 for the last layer)::

        c = a * (u @ h) + b                 a > 0, rows of u on the simplex
        h' = logit(w @ sigmoid(c))          rows of w on the simplex

    With one layer and ``u = 1`` this is the DSF ``y = logit(w . sigmoid(a x + b))``.
    Every layer is strictly increasing in ``x`` because ``a > 0`` and ``u``,
    ``w`` are convex weights; as ``x -> +-inf`` the output grows like the
    smallest slope times ``x``, so the map is a bijection of the real line.
    The transformer returns ``h_L(x) + 1e-3 * x``: the small linear term
    keeps the slope at least ``1e-3`` where every unit saturates (in float64
    a saturated DSF is flat, and could not be inverted there).
    Derivatives are carried through the layers as ``log dh/dx`` with
    log-sum-exp contractions (a "log-matmul-exp").

    Parameters
    ----------
    n_units : int
        Sigmoid units per layer (``K``).
    n_layers : int, default=1
        1 gives DSF, more give DDSF.
    """

    def __init__(self, n_units: int, n_layers: int = 1) -> None:
        if n_units < 1 or n_layers < 1:
            raise ValueError(f"n_units and n_layers must be >= 1, got {n_units}, {n_layers}.")
        self.n_units = n_units
        self.n_layers = n_layers
        self._widths = [(1 if layer == 0 else n_units, 1 if layer == n_layers - 1 else n_units)
                        for layer in range(n_layers)]
        self._piece_sizes = [
            size
            for k_in, k_out in self._widths
            for size in ([n_units * k_in] if k_in > 1 else []) + [n_units, n_units,
                                                                  k_out * n_units]
        ]
        self.n_params = sum(self._piece_sizes)

    def initial_params(self) -> Tensor:
        """Slopes 1, offsets spread over [-2, 2], uniform mixing weights: a
        smooth near-identity whose units differ, so training can tell them apart."""
        pieces = []
        for k_in, k_out in self._widths:
            if k_in > 1:
                pieces.append(torch.zeros(self.n_units * k_in))
            pieces.append(torch.zeros(self.n_units))                        # slope
            pieces.append(torch.linspace(-2.0, 2.0, self.n_units)
                          if self.n_units > 1 else torch.zeros(1))          # offset
            pieces.append(torch.zeros(k_out * self.n_units))                # w logits
        return torch.cat(pieces)

    def _constrain(self, params: Tensor) -> list[tuple[Tensor | None, Tensor, Tensor, Tensor]]:
        """Per layer: mixing weights ``u`` (None for a scalar input), slopes
        ``a``, offsets ``b`` and output weights ``w`` (rows of ``u`` and ``w``
        on the simplex)."""
        K = self.n_units
        # One split, not many slices: the backward pass of a slice fills a
        # zero tensor the size of ``params``, which dominated training time.
        pieces = iter(torch.split(params, self._piece_sizes, dim=-1))
        layers = []
        for k_in, k_out in self._widths:
            u = None
            if k_in > 1:
                u = F.softmax(next(pieces).unflatten(-1, (K, k_in)), dim=-1)
            slope = F.softplus(next(pieces) + _SOFTPLUS_ONE) + _MIN_SLOPE
            offset = next(pieces)
            w = F.softmax(next(pieces).unflatten(-1, (k_out, K)), dim=-1)
            layers.append((u, slope, offset, w))
        return layers

    @staticmethod
    def _evaluate(x: Tensor, layers) -> tuple[Tensor, Tensor]:
        h = x.unsqueeze(-1)                  # (..., K_in)
        log_dh = torch.zeros_like(h)         # log dh/dx, (..., K_in)
        for u, slope, offset, w in layers:
            if u is None:                    # scalar input: u is 1
                pre, log_dpre = h, log_dh
            else:
                pre = (u @ h.unsqueeze(-1)).squeeze(-1)                       # (..., K)
                log_dpre = _log_matvec_exp(u, log_dh)
            c = slope * pre + offset                                          # (..., K)
            log_sig, log_one_minus = F.logsigmoid(c), F.logsigmoid(-c)
            log_s = _log_matvec_exp(w, log_sig)                               # (..., k_out)
            log_1ms = _log_matvec_exp(w, log_one_minus)
            log_dc = torch.log(slope) + log_dpre
            log_dh = _log_matvec_exp(w, log_sig + log_one_minus + log_dc) - log_s - log_1ms
            h = log_s - log_1ms
        y = h.squeeze(-1) + _RESIDUAL_SLOPE * x
        return y, torch.logaddexp(log_dh.squeeze(-1), log_dh.new_tensor(_LOG_RESIDUAL_SLOPE))

    def __call__(self, x: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return self._evaluate(x, self._constrain(params))

    def inverse(self, y: Tensor, params: Tensor) -> Tensor:
        layers = self._constrain(params)     # once, not at every iteration
        return monotone_inverse(lambda x: self._evaluate(x, layers), y)


class RationalQuadraticSpline(MonotoneTransformer):
    """Monotone rational-quadratic spline with linear tails (Durkan et al.,
    "Neural Spline Flows", 2019).

    On ``[-bound, bound]`` the map is a spline of ``n_bins`` rational-quadratic
    pieces through ``n_bins + 1`` knots, each piece strictly increasing; outside
    it is the identity. Widths and heights of the bins come from softmaxes
    (each at least ``1e-3`` of the interval), the derivatives at the inner
    knots from softplus (at least ``1e-3``); at both ends the derivative is 1,
    so the slope is continuous where the tails begin. Forward map, inverse (the
    root of a quadratic) and log-derivative are in closed form. All-zero
    pseudo-parameters give the identity.

    Parameters
    ----------
    n_bins : int
        Spline pieces (``K``); ``3 K - 1`` pseudo-parameters.
    bound : float, default=5.0
        Half-width of the interval the spline covers.
    """

    #: Smallest bin width and height (share of the interval) and knot derivative.
    MIN_SHARE = 1e-3
    MIN_DERIVATIVE = 1e-3

    def __init__(self, n_bins: int, bound: float = 5.0) -> None:
        if n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {n_bins}.")
        if not bound > 0:
            raise ValueError(f"bound must be > 0, got {bound}.")
        self.n_bins = n_bins
        self.bound = float(bound)
        self.n_params = 3 * n_bins - 1
        # softplus(raw + _derivative_offset) + MIN_DERIVATIVE == 1 at raw == 0
        self._derivative_offset = math.log(math.expm1(1.0 - self.MIN_DERIVATIVE))

    def initial_params(self) -> Tensor:
        return torch.zeros(self.n_params)

    def _knots(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        """Knot positions (..., K + 1) from ``-bound`` to ``bound`` and bin sizes (..., K)."""
        share = self.MIN_SHARE + (1 - self.MIN_SHARE * self.n_bins) * F.softmax(raw, dim=-1)
        inner = torch.cumsum(share[..., :-1], dim=-1) * (2 * self.bound) - self.bound
        end = torch.full_like(share[..., :1], self.bound)
        knots = torch.cat([-end, inner, end], dim=-1)   # the ends exactly at +-bound
        return knots, knots[..., 1:] - knots[..., :-1]

    def _spline(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Knots of ``x`` and ``y``, bin sizes, and the derivatives at every knot."""
        K = self.n_bins
        raw_widths, raw_heights, raw_derivatives = torch.split(params, [K, K, K - 1], dim=-1)
        x_knots, widths = self._knots(raw_widths)
        y_knots, heights = self._knots(raw_heights)
        inner = F.softplus(raw_derivatives + self._derivative_offset) + self.MIN_DERIVATIVE
        derivatives = F.pad(inner, (1, 1), value=1.0)
        return x_knots, widths, y_knots, heights, derivatives

    @staticmethod
    def _bin(knots: Tensor, value: Tensor, n_bins: int) -> Tensor:
        """Index (..., 1) of the bin of ``value`` (...) among ``knots`` (..., K + 1)."""
        index = (value.unsqueeze(-1) >= knots[..., 1:-1]).sum(dim=-1, keepdim=True)
        return index.clamp(0, n_bins - 1)

    def _pieces(self, value: Tensor, params: Tensor, value_is_output: bool
                ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """The quantities of the piece each ``value`` falls in, located among
        the input knots, or with ``value_is_output`` the output knots."""
        x_knots, widths, y_knots, heights, derivatives = self._spline(params)
        index = self._bin(y_knots if value_is_output else x_knots, value, self.n_bins)

        def take(t: Tensor) -> Tensor:
            return torch.gather(t, -1, index).squeeze(-1)

        x_k, w, y_k, h = take(x_knots), take(widths), take(y_knots), take(heights)
        d_k, d_next = take(derivatives[..., :-1]), take(derivatives[..., 1:])
        return x_k, w, y_k, h, d_k, d_next

    def __call__(self, x: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        inside = x.abs() < self.bound
        x_in = x.clamp(-self.bound, self.bound)
        x_k, w, y_k, h, d_k, d_next = self._pieces(x_in, params, value_is_output=False)
        slope = h / w
        xi = ((x_in - x_k) / w).clamp(0.0, 1.0)
        xi_1m = xi * (1 - xi)
        denominator = slope + (d_next + d_k - 2 * slope) * xi_1m
        y = y_k + h * (slope * xi.square() + d_k * xi_1m) / denominator
        log_derivative = (2 * torch.log(slope) + torch.log(
            d_next * xi.square() + 2 * slope * xi_1m + d_k * (1 - xi).square())
            - 2 * torch.log(denominator))
        return (torch.where(inside, y, x),
                torch.where(inside, log_derivative, torch.zeros_like(log_derivative)))

    def inverse(self, y: Tensor, params: Tensor) -> Tensor:
        inside = y.abs() < self.bound
        y_in = y.clamp(-self.bound, self.bound)
        x_k, w, y_k, h, d_k, d_next = self._pieces(y_in, params, value_is_output=True)
        slope = h / w
        offset = y_in - y_k
        curvature = d_next + d_k - 2 * slope
        a = h * (slope - d_k) + offset * curvature
        b = h * d_k - offset * curvature
        c = -slope * offset
        discriminant = (b.square() - 4 * a * c).clamp_min(0.0)
        xi = ((2 * c) / (-b - torch.sqrt(discriminant))).clamp(0.0, 1.0)
        return torch.where(inside, x_k + xi * w, y)


def _log_matvec_exp(weights: Tensor, log_v: Tensor) -> Tensor:
    """``log(weights @ exp(log_v))`` for non-negative ``weights`` (..., m, k)
    and ``log_v`` (..., k), as a matrix product: ``log_v`` is shifted by its
    maximum first, so the dominant terms cannot underflow however negative
    ``log_v`` is (the log-sum-exp trick, without materializing the
    (..., m, k) sum)."""
    shift = log_v.amax(dim=-1, keepdim=True).detach()
    product = (weights @ (log_v - shift).exp().unsqueeze(-1)).squeeze(-1)
    return product.log() + shift


def monotone_inverse(
    function, y: Tensor, bound: float = INVERSION_BOUND, max_iter: int = 100
) -> Tensor:
    """Solve ``function(x)[0] == y`` element-wise for a strictly increasing map.

    ``function`` returns ``(f(x), log f'(x))``. The bracket starts at [-1, 1]
    and doubles until it contains the root (up to ``|x| <= bound``). Inside
    it, safeguarded Newton steps converge quadratically near the root, in a
    handful of evaluations where bisection alone needs about 55: a Newton
    step is replaced by bisection when it leaves the bracket or is not at
    most half the previous step (a rule like that of Numerical Recipes'
    ``rtsafe``: near a bend Newton can bounce between the two sides of the
    root, inside the bracket, without converging). Iteration stops when, for
    every element, the step or the residual ``f(x) - y`` is within a few ulps.
    Elements whose root lies beyond ``bound`` are returned clamped to
    ``+-bound``. Vectorized over all elements; no gradients.
    """
    with torch.no_grad():
        lo = torch.full_like(y, -1.0)
        hi = torch.full_like(y, 1.0)
        while True:
            grow_lo = (function(lo)[0] > y) & (lo > -bound)
            grow_hi = (function(hi)[0] < y) & (hi < bound)
            if not (grow_lo.any() or grow_hi.any()):
                break
            lo = torch.where(grow_lo, (2 * lo).clamp_min(-bound), lo)
            hi = torch.where(grow_hi, (2 * hi).clamp_max(bound), hi)
        x = 0.5 * (lo + hi)
        previous_step = hi - lo
        tolerance = 4 * torch.finfo(y.dtype).eps
        for _ in range(max_iter):
            value, log_derivative = function(x)
            below = value < y
            lo = torch.where(below, x, lo)
            hi = torch.where(below, hi, x)
            newton = x - (value - y) * torch.exp(-log_derivative)
            accept = (newton >= lo) & (newton <= hi) & (
                (newton - x).abs() <= 0.5 * previous_step)
            missing = (value - y).abs() > tolerance * y.abs().clamp_min(1.0)
            # An element already at its root stays there.
            x_next = torch.where(missing, torch.where(accept, newton, 0.5 * (lo + hi)), x)
            previous_step = (x_next - x).abs()
            moving = previous_step > tolerance * x.abs().clamp_min(1.0)
            x = x_next
            if not bool((moving & missing).any()):
                break
        return x
