r"""init_report: predicted versus measured activation and gradient variance per layer at initialization.

The theory (for a layer y = W x + b with independent, zero-mean weights of variance Var[W],
independent of its input):

* forward (LeCun et al. 1998; He et al. 2015, eq. 7):
  Var[y] = fan_in * Var[W] * E[x^2] + Var[b]. With E[x^2] *measured* at the layer's input the
  prediction is local and exact in expectation whatever came before (``act_var_pred``).
* the chained prediction from the network's input alone (``act_var_chain``) also predicts
  E[x^2] of each layer's input from the previous layer's Var[y] through the activation's gain:
  ReLU: E[relu(z)^2] = Var[z] / 2 (He et al. 2015), so He's Var[W] = 2 / fan_in keeps
  Var[y] constant; leaky ReLU (slope a): (1 + a^2) / 2 * Var[z]; tanh linearized at 0 (tanh z ~ z):
  Var[z], so LeCun's Var[W] = 1 / fan_in keeps it constant (Glorot & Bengio 2010 average fan-in
  and fan-out: 2 / (fan_in + fan_out)); sigmoid linearized (sigma(z) ~ 1/2 + z/4):
  1/4 + Var[z] / 16. Other smooth ReLU-like units (ELU, GELU, SiLU...) take ReLU's 1/2;
  anything else is treated as the identity. The chain re-anchors at normalization layers (their
  measured output).
* backward (Glorot & Bengio 2010, eq. 6; He et al. 2015, eq. 13): the gradient reaching the layer's
  input, dL/dx = W^T dL/dy, has E[(dL/dx)^2] = fan_out * Var[W] * E[(dL/dy)^2] (``grad_var_pred``
  against the measured ``grad_in_sq``). For conv layers fan_out = out_channels / groups *
  prod(kernel) / prod(stride) (each input position feeds that many outputs, away from borders).

The backward pass uses a random upstream gradient of unit variance, L = sum(out * w), w ~ N(0, 1),
so the output layer's E[(dL/dy)^2] = 1. Conv predictions ignore the zero padding at the borders
(they slightly overestimate).

Papers: LeCun, Bottou, Orr, Mueller 1998, "Efficient BackProp"; Glorot & Bengio 2010,
"Understanding the difficulty of training deep feedforward neural networks"; He, Zhang, Ren, Sun
2015, "Delving Deep into Rectifiers", https://arxiv.org/abs/1502.01852.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..autograd import enable_grad
from ..nn.init import calculate_fan_in_and_fan_out
from ..nn.module import Module
from ..rng import as_generator
from ..tensor import Tensor, as_tensor
from .findings import fmt
from .layers import ACTIVATION_TYPES, first_tensor, kept_as_found, layer_kind
from .norms import as_input

__all__ = ["InitReport", "InitRow", "expected_weight_var", "init_report"]

_RELU_LIKE = ("relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus", "prelu")
_LINEARIZED = ("tanh", "softsign", "hardtanh")


def expected_weight_var(scheme, fan_in: int, fan_out: int) -> float:
    """Var[W] that ``scheme`` prescribes: 'lecun' 1/fan_in, 'xavier'/'glorot' 2/(fan_in+fan_out),
    'he'/'kaiming' 2/fan_in, 'normal' 1, 'small' 1e-4, 'zeros' 0, 'default' (PyTorch's
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))) 1/(3 fan_in), a float = the weights' standard deviation."""
    if isinstance(scheme, (int, float)) and not isinstance(scheme, bool):
        return float(scheme) ** 2
    from ..models.mlp import canonical_init

    name = canonical_init(scheme, "init_report")
    base = name.split("_")[0]
    table = {"lecun": 1.0 / fan_in, "xavier": 2.0 / (fan_in + fan_out), "he": 2.0 / fan_in, "normal": 1.0,
             "small": 1e-4, "zeros": 0.0, "default": 1.0 / (3.0 * fan_in), "orthogonal": math.nan}
    if base not in table:
        raise ValueError(f"init_report: no variance rule for init scheme {scheme!r}; pass a float (the weights' std).")
    return table[base]


@dataclass
class InitRow:
    """One Linear/conv layer of an :class:`InitReport` (variances are over all elements of the batch)."""

    name: str
    kind: str
    activation: str  # the activation module(s) called after it, '+'-joined; '' when none
    fan_in: int
    fan_out: float
    weight_var: float  # measured variance of the weight entries
    expected_weight_var: float  # what the ``scheme`` prescribes (NaN without a scheme)
    bias_var: float
    input_sq: float  # measured E[x^2] of the layer's input
    act_var: float  # measured Var[y] of the layer's output (pre-activation)
    act_var_pred: float  # fan_in * Var[W] * E[x^2] + Var[b], local
    act_var_chain: float  # the same, chained from the network's input through the activations' gains
    grad_out_sq: float  # measured E[(dL/dy)^2]
    grad_in_sq: float  # measured E[(dL/dx)^2]
    grad_var_pred: float  # fan_out * Var[W] * E[(dL/dy)^2]

    @property
    def act_ratio(self) -> float:
        """measured / predicted activation variance (1 when the theory holds)."""
        return _ratio(self.act_var, self.act_var_pred)

    @property
    def grad_ratio(self) -> float:
        """measured / predicted input-gradient second moment."""
        return _ratio(self.grad_in_sq, self.grad_var_pred)


def _ratio(a, b):
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.nan
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


def _gain(kind: str, module, v: float) -> float:
    """Predicted E[f(z)^2] for z ~ N(0, v) (see the module docstring)."""
    if kind in ("relu", "relu6") or kind in _RELU_LIKE:
        return v / 2.0
    if kind == "leakyrelu":
        a = float(getattr(module, "negative_slope", 0.01))
        return (1.0 + a * a) / 2.0 * v
    if kind in _LINEARIZED:
        return v
    if kind == "sigmoid":
        return 0.25 + v / 16.0
    return v


@dataclass
class InitReport:
    """Result of :func:`init_report`: ``rows`` (one :class:`InitRow` per Linear/conv layer, in call order)."""

    rows: list
    input_sq: float  # E[x^2] of the first layer's input
    scheme: object = None

    def findings(self, tolerance: float = 2.0) -> list:
        """Plain-language problems: weights off their scheme's variance, predictions that fail by more
        than ``tolerance``x, activations or gradients shrinking/growing geometrically with depth."""
        out = []
        for r in self.rows:
            if r.weight_var == 0.0:
                out.append(f"layer {r.name} ({r.kind}) has all-zero weights: every unit computes the same value "
                           "and gets the same gradient, so symmetry is never broken — use a random init (He for "
                           "ReLU, LeCun/Xavier for tanh)")
                continue
            w = _ratio(r.weight_var, r.expected_weight_var)
            if math.isfinite(w) and not 0.8 < w < 1.25:
                out.append(f"layer {r.name} ({r.kind}) has weights of variance {fmt(r.weight_var)}, {fmt(w)}x what "
                           f"{self.scheme!r} prescribes ({fmt(r.expected_weight_var)}) — check the initializer "
                           "(std vs variance? fan_in vs fan_out?)")
            a = r.act_ratio
            if math.isfinite(a) and not 1 / tolerance < a < tolerance:
                out.append(f"layer {r.name} ({r.kind}): measured activation variance {fmt(r.act_var)} is {fmt(a)}x "
                           f"the prediction fan_in*Var[W]*E[x^2] = {fmt(r.act_var_pred)}")
        out.extend(self._depth_findings())
        return out

    def _depth_findings(self) -> list:
        rows = [r for r in self.rows if r.act_var > 0 and math.isfinite(r.act_var)]
        if len(rows) < 3 or not self.input_sq > 0:
            return []
        n = len(rows)
        per = (rows[-1].act_var / rows[0].act_var) ** (1.0 / (n - 1))
        acts = [r.activation for r in rows[:-1] if r.activation]
        act = max(set(acts), key=acts.count) if acts else ""
        out = []
        if not 0.8 < per < 1.25:
            total = rows[-1].act_var / self.input_sq
            verb, adj = ("shrink", "small") if per < 1 else ("grow", "large")
            out.append(f"activations {verb} by {fmt(per)}x per layer: after {n} layers the signal is {fmt(total)} of "
                       f"the input — the init is too {adj} for {act or 'this network'}; {_remedy(act)}")
        g = [r for r in self.rows if r.grad_in_sq > 0 and math.isfinite(r.grad_in_sq)]
        if len(g) >= 3:
            total_g = g[0].grad_in_sq / g[-1].grad_in_sq
            per_g = total_g ** (1.0 / (len(g) - 1))
            if not 0.8 < per_g < 1.25:
                verb = "shrink" if per_g < 1 else "grow"
                out.append(f"gradients {verb} by {fmt(per_g)}x per layer going backward: layer {g[0].name}'s input "
                           f"receives {fmt(total_g)} of the squared gradient at layer {g[-1].name}'s input — "
                           f"{_remedy(act)}")
        return out

    def __str__(self) -> str:
        def f(x):
            return "" if isinstance(x, float) and math.isnan(x) else f"{x:.3g}"

        lines = ["| layer | kind | act | fan_in | Var[W] | E[x^2] | Var[y] | predicted | chained | E[gx^2] | predicted |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r.name} | {r.kind} | {r.activation} | {r.fan_in} | {f(r.weight_var)} | {f(r.input_sq)} "
                         f"| {f(r.act_var)} | {f(r.act_var_pred)} | {f(r.act_var_chain)} | {f(r.grad_in_sq)} "
                         f"| {f(r.grad_var_pred)} |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from .stats import jsonable

        rows = [{**asdict(r), "act_ratio": r.act_ratio, "grad_ratio": r.grad_ratio} for r in self.rows]
        return jsonable({"input_sq": self.input_sq, "scheme": None if self.scheme is None else str(self.scheme),
                         "rows": rows, "findings": self.findings()})


def _remedy(act: str) -> str:
    if act in ("relu", "relu6", "leakyrelu", "prelu"):
        return "He initialization (Var[W] = 2/fan_in) keeps it constant"
    if act == "sigmoid":
        return "sigmoid's slope of at most 1/4 shrinks the signal at every layer; use tanh with LeCun/Xavier or ReLU with He"
    return "LeCun (Var[W] = 1/fan_in) or Xavier (2/(fan_in+fan_out)) initialization keeps it constant"


def _sq(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.mean(a * a)) if a.size else math.nan


def init_report(model: Module, x, *, scheme=None, rng=0, train: bool = False) -> InitReport:
    """Predicted versus measured per-layer activation and gradient variance, at the current weights.

    One forward pass of ``x`` and one backward pass of a random unit-variance upstream gradient;
    hooks on every Linear/conv layer (rows) and every activation and normalization module (for the
    chain). The model's gradients and modes are restored. Formulas: see the module docstring.

    Args:
        model: a Module, typically just initialized.
        x: an input batch; use a wide batch (hundreds of samples) for tight estimates.
        scheme: the init you meant to use ('lecun', 'xavier', 'he', ... or a float std); predictions
            then use its Var[W] instead of the measured one, so a wrong weight scale shows up as a
            disagreement (and a finding). None: use the weights' measured variance.
        rng: seed or Generator of the upstream gradient.
        train: run in train mode (dropout active, batch norm on batch statistics); default eval.

    Returns:
        InitReport: ``.rows`` (:class:`InitRow`), ``.findings()``, ``str()`` (markdown), ``.to_dict()``.

    Example:
        >>> import numpy as np
        >>> from nnbasics.models.mlp import mlp
        >>> net = mlp(in_features=100, hidden=[100] * 5, out_features=10, activation="relu", init="he", rng=0)
        >>> rep = init_report(net, np.random.default_rng(0).standard_normal((500, 100)))
        >>> all(0.8 < r.act_ratio < 1.25 for r in rep.rows)  # measured / predicted
        True
        >>> rep.findings()
        []
    """
    owner = "init_report"
    if not isinstance(model, Module):
        raise TypeError(f"{owner}: model must be an nnbasics Module; got {type(model).__name__}.")
    watched = [(n, m) for n, m in model.named_modules()
               if layer_kind(m) in ("linear", "conv") or isinstance(m, ACTIVATION_TYPES) or layer_kind(m) == "norm"]
    if not any(layer_kind(m) in ("linear", "conv") for _, m in watched):
        raise ValueError(f"{owner}: the model has no Linear or Conv layer to report on.")
    xt = as_input(x, model, owner)
    if not np.issubdtype(xt.dtype, np.floating):
        raise TypeError(f"{owner}: x must be a float input batch (got {xt.dtype}); for token inputs report on a "
                        "submodule after the embedding.")
    xt = as_tensor(xt._array.copy()).requires_grad_()
    events, fwd, bwd = [], {}, {}

    def fhook(name, m):
        def hook(module, args, out):
            o = first_tensor(out)
            events.append((name, m))
            if name not in fwd and o is not None:
                fwd[name] = (_sq(args[0]) if args and isinstance(args[0], Tensor) else math.nan,
                             float(np.var(np.asarray(o._array, np.float64))), _sq(o))
        return hook

    def bhook(name):
        def hook(module, grad_input, grad_output):
            if name not in bwd:
                gi = grad_input[0] if grad_input and grad_input[0] is not None else None
                go = grad_output[0] if grad_output and grad_output[0] is not None else None
                bwd[name] = (_sq(gi) if gi is not None else math.nan, _sq(go) if go is not None else math.nan)
        return hook

    with kept_as_found(model) as handles:
        model.train(bool(train))
        for n, m in watched:
            handles.append(m.register_forward_hook(fhook(n, m)))
            if layer_kind(m) in ("linear", "conv"):
                handles.append(m.register_full_backward_hook(bhook(n)))
        with enable_grad():
            out = first_tensor(model(xt))
            w = as_generator(rng).standard_normal(out.shape).astype(out.dtype)
            (out * as_tensor(w)).sum().backward()
    return _build(events, fwd, bwd, scheme)


def _build(events, fwd, bwd, scheme) -> InitReport:
    rows, seen, q, first_sq = [], set(), None, math.nan
    for name, m in events:
        if name in seen:
            continue
        seen.add(name)
        kind = layer_kind(m)
        x_sq, y_var, y_sq = fwd.get(name, (math.nan,) * 3)
        if kind in ("linear", "conv"):
            weight = np.asarray(m.weight._array, np.float64)
            fan_in, fan_out = calculate_fan_in_and_fan_out(weight.shape)
            if kind == "conv":
                fan_out = m.out_channels // m.groups * int(np.prod(m.kernel_size)) / float(np.prod(m.stride))
            wv = float(np.var(weight))
            ev = expected_weight_var(scheme, fan_in, int(fan_out)) if scheme is not None else math.nan
            use = ev if scheme is not None else wv
            bias = getattr(m, "bias", None)
            bv = float(np.var(np.asarray(bias._array, np.float64))) if bias is not None else 0.0
            if q is None:
                q, first_sq = x_sq, x_sq
            chain = fan_in * use * q + bv
            g_in, g_out = bwd.get(name, (math.nan, math.nan))
            rows.append(InitRow(name=name, kind=kind, activation="", fan_in=int(fan_in), fan_out=float(fan_out),
                                weight_var=wv, expected_weight_var=ev, bias_var=bv, input_sq=x_sq, act_var=y_var,
                                act_var_pred=fan_in * use * x_sq + bv, act_var_chain=chain, grad_out_sq=g_out,
                                grad_in_sq=g_in, grad_var_pred=fan_out * use * g_out))
            q = chain
        elif kind == "norm":
            q = y_sq  # re-anchor at the measured normalized output
        elif q is not None:
            if rows:
                rows[-1].activation = "+".join(filter(None, [rows[-1].activation, kind]))
            q = _gain(kind, m, q)
    return InitReport(rows=rows, input_sq=first_sq, scheme=scheme)
