"""Optimizer: the base class of every update rule (SGD, Adam...).

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus that
group's hyperparameters) and, aligned with them, ``state``: one list per group
holding one dict per parameter, in parameter order. State is never keyed by
``id(param)`` (ids are reused after garbage collection and differ between runs),
so ``state_dict()`` numbers parameters by position exactly as PyTorch does.

Subclasses validate their hyperparameters in :meth:`_check_hyperparams` and
write the update for one parameter in :meth:`_update`, in place on the array.
"""

from __future__ import annotations

import copy
import math

from .._validate import is_real
from ..autograd import enable_grad
from ..backend import is_float_dtype, xp
from ..tensor import Tensor

__all__ = ["Optimizer"]


class Optimizer:
    """Base class: parameter groups, ordered per-parameter state, ``step``, ``zero_grad``, state dicts.

    Args:
        params: an iterable of Parameters (leaf float Tensors), or of dicts
            ``{"params": [...], "lr": ..., ...}`` (parameter groups; keys a
            group leaves out take the optimizer's defaults).
        defaults: hyperparameters of the optimizer, used by groups that omit them.

    Attributes:
        param_groups (list[dict]): ``"params"`` (list of Parameters) and hyperparameters.
        state (list[list[dict]]): ``state[g][i]`` is the state of the i-th
            parameter of group g (empty until its first update).
        defaults (dict)

    Example:
        >>> import nnbasics as nb
        >>> from nnbasics.optim import SGD
        >>> w = nb.nn.Parameter(nb.ones(3))
        >>> opt = SGD([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.tolist()
        [0.0, 0.0, 0.0]
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_hyperparams(self.defaults, where="")
        self.param_groups: list[dict] = []
        self.state: list[list[dict]] = []
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                f"params of {type(self).__name__} must be an iterable of Parameters or of param-group "
                f"dicts; got a single {type(params).__name__}. Wrap it in a list: [{type(params).__name__.lower()}]."
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"params of {type(self).__name__} must be an ordered iterable (list, tuple, generator): a set's "
                "order changes between runs, and so would the state-dict numbering. Pass a list."
            )
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list; pass model.parameters().")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # ------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters, e.g. layers unfrozen during fine-tuning.

        Args:
            param_group: ``{"params": iterable of Parameters, **hyperparameters}``;
                missing hyperparameters take the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict with a 'params' key; got {type(param_group).__name__}.")
        if "params" not in param_group:
            raise ValueError("a param group must have a 'params' key holding its parameters.")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("the 'params' of a param group must be an ordered iterable (list, tuple), not a set.")
        params = list(params)
        index = len(self.param_groups)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__} can only optimize Tensors (Parameters); param group {index} "
                    f"holds a {type(p).__name__}."
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{type(self).__name__} can't optimize a non-leaf Tensor (the output of an op); "
                    "optimize the Parameter it came from, or .detach() it into a new Parameter."
                )
            if not is_float_dtype(p.dtype):
                raise TypeError(f"{type(self).__name__} can only optimize floating-point tensors; got {p.dtype}.")
        seen = {id(p) for p in params}  # identity checks only; state is never keyed by id
        if len(seen) != len(params):
            raise ValueError(f"param group {index} lists a parameter more than once; list each parameter once.")
        for g in self.param_groups:
            if any(id(p) in seen for p in g["params"]):
                raise ValueError(
                    "some parameters appear in more than one parameter group; each parameter may belong to one group."
                )
        group = {k: v for k, v in param_group.items() if k != "params"}
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._check_hyperparams(group, where=f" (param group {index})")
        group["params"] = params
        self.param_groups.append(group)
        self.state.append([{} for _ in params])

    # ------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters.

        Args:
            set_to_none: set ``.grad`` to None (default; frees memory and lets
                ``step`` skip the parameter) instead of to a new array of zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    # A new array: the old one may be shared with other gradients.
                    p.grad = Tensor._make(xp.zeros_like(p._array), False, None)

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place.

        Args:
            closure: optional callable that re-evaluates the model and returns the
                loss (it should zero the gradients and call ``backward``).

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group, states in zip(self.param_groups, self.state):
            for p, state in zip(group["params"], states):
                if p.grad is None:
                    continue
                grad = p.grad._array
                if grad.shape != p._array.shape:
                    raise ValueError(f"a parameter of shape {p._array.shape} has a gradient of shape {grad.shape}.")
                if grad.dtype != p._array.dtype:
                    grad = grad.astype(p._array.dtype)
                self._update(p._array, grad, state, group)
                p._vc[0] += 1  # an in-place change of p, as in PyTorch (nnbasics.versions)
        return loss

    def _update(self, param, grad, state: dict, group: dict) -> None:  # pragma: no cover - abstract
        """Update ``param`` (ndarray) in place from ``grad`` (read-only ndarray); create ``state`` lazily."""
        raise NotImplementedError

    def _check_hyperparams(self, group: dict, where: str) -> None:
        """Raise ValueError/TypeError for invalid hyperparameters; ``where`` names the group in messages."""

    # ------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """A snapshot of the optimizer, laid out as PyTorch's.

        Returns:
            ``{"state": {i: {name: ndarray | number}}, "param_groups": [{hyperparameters...,
            "params": [i, ...]}]}`` where ``i`` numbers the parameters in group order
            (0, 1, ... across all groups). Parameters never updated have no ``state``
            entry. Arrays are copies: the snapshot does not change as training goes on.
        """
        state, groups, start = {}, [], 0
        for group, states in zip(self.param_groups, self.state):
            saved = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            saved["params"] = list(range(start, start + len(group["params"])))
            groups.append(saved)
            for i, s in enumerate(states):
                if s:
                    state[start + i] = {k: (v.copy() if isinstance(v, xp.ndarray) else v) for k, v in s.items()}
            start += len(group["params"])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a snapshot made by :meth:`state_dict` (hyperparameters and per-parameter state).

        The optimizer must have been built over parameters of the same number,
        grouping, order and shapes. Everything is checked before anything changes.
        Arrays are copied and cast to the parameter's dtype.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{name}.load_state_dict expects a dict with 'state' and 'param_groups' keys.")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter group(s), but this {name} has "
                f"{len(self.param_groups)}; build the optimizer over the same groups."
            )
        where = {}  # saved parameter index -> (group, position)
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"param group {gi} of the loaded state dict has {len(saved['params'])} parameter(s), but "
                    f"this {name}'s group {gi} has {len(group['params'])}; build it over the same parameters."
                )
            for pos, idx in enumerate(saved["params"]):
                where[int(idx)] = (gi, pos)
        new_state = [[{} for _ in g["params"]] for g in self.param_groups]
        for idx, s in state_dict["state"].items():
            if int(idx) not in where:
                raise ValueError(f"the loaded state dict has state for parameter {idx}, which no param group lists.")
            gi, pos = where[int(idx)]
            p = self.param_groups[gi]["params"][pos]
            restored = {}
            for key, value in s.items():
                value = _foreign_array(value)
                if isinstance(value, (xp.ndarray, Tensor)) and value.ndim == 0 and p._array.ndim != 0:
                    value = _scalar_state(key, value)  # PyTorch keeps ``step`` as a 0-d tensor
                if isinstance(value, (xp.ndarray, Tensor)):
                    arr = value._array if isinstance(value, Tensor) else value
                    if arr.shape != p._array.shape:
                        raise ValueError(
                            f"state {key!r} of parameter {idx} has shape {arr.shape}, but the parameter has shape "
                            f"{p._array.shape}; the state dict belongs to a different model."
                        )
                    value = xp.array(arr, dtype=p._array.dtype, copy=True)
                restored[key] = value
            new_state[gi][pos] = restored
        new_groups = []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            g = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            self._check_hyperparams(g, where=f" (loaded param group {gi})")
            g["params"] = group["params"]
            new_groups.append(g)
        self.param_groups[:] = new_groups
        self.state[:] = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines) + "\n)"


def _foreign_array(value):
    """A tensor of another library (a real ``torch.optim`` state dict holds torch tensors) as an ndarray;
    anything else as it is. Kept as is, a torch tensor failed later inside ``step``."""
    if isinstance(value, (xp.ndarray, Tensor)) or not hasattr(value, "__array__"):
        return value
    detach = getattr(value, "detach", None)
    if callable(detach):  # torch: off the graph and the device; bfloat16 has no NumPy dtype
        value = detach().cpu()
        if str(getattr(value, "dtype", "")).endswith("bfloat16"):
            value = value.float()
    return xp.asarray(value)


def _scalar_state(key, value):
    """A 0-d tensor or array of a PyTorch state dict (``step`` is ``tensor(3.)`` there) as a number;
    a whole-number ``step`` becomes an int, as nnbasics' optimizers count it."""
    v = (value._array if isinstance(value, Tensor) else value).item()
    if key == "step" and isinstance(v, float) and v.is_integer():
        return int(v)
    return v


# ---------------------------------------------------------------- helpers for subclasses
def effective_grad(param, grad, weight_decay: float, maximize: bool):
    """``(±grad + weight_decay * param, owned)``; ``owned`` is False when ``grad`` itself is returned.

    ``grad`` is never written: it may share memory with other gradients.
    """
    if weight_decay == 0.0:
        return (xp.negative(grad), True) if maximize else (grad, False)
    d = xp.multiply(param, weight_decay)  # Python float keeps param's dtype
    if maximize:
        d -= grad
    else:
        d += grad
    return d, True


def check_real(owner: str, name: str, value, where: str = "") -> float:
    """``value`` as a float, or TypeError naming the hyperparameter."""
    if not is_real(value):
        raise TypeError(f"{name} of {owner}{where} must be a real number. Got {value!r}.")
    return float(value)


def check_nonneg(owner: str, name: str, value, where: str = "") -> None:
    """Raise unless ``value`` is a real number >= 0: "lr of Adam must be >= 0. Got -1."."""
    v = check_real(owner, name, value, where)
    if not v >= 0.0 or math.isinf(v):  # also rejects NaN and inf
        raise ValueError(f"{name} of {owner}{where} must be >= 0. Got {value!r}.")


def check_unit_interval(owner: str, name: str, value, where: str = "") -> None:
    """Raise unless ``0 <= value < 1`` (decay rates such as Adam's betas)."""
    v = check_real(owner, name, value, where)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name} of {owner}{where} must be in [0, 1). Got {value!r}.")


def speed_flags(name: str, differentiable: bool) -> None:
    """PyTorch's implementation switches: ``foreach``, ``fused`` and ``capturable`` choose how the same
    update is computed (multi-tensor, one kernel, CUDA graphs) and change nothing here; they are
    accepted and ignored. ``differentiable=True`` (a graph through the update itself) is refused."""
    if differentiable:
        raise NotImplementedError(f"{name}(differentiable=True): nnbasics optimizers update parameters outside "
                                  f"autograd; leave differentiable False.")
