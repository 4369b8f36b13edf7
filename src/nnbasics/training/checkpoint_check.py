"""Checks on a checkpoint's contents, done completely before :func:`load_checkpoint` changes anything.

A checkpoint's header is JSON that anyone can edit (its SHA-256 covers the arrays only), so
every field that loading or resuming reads is checked here against a schema, and every value
that later code will compute with is tried first on throwaway objects:

* the metadata's types and ranges (:func:`check_meta`): epoch, history, model spec and keys,
  optimizer layout, random-stream states;
* the size of the model its spec describes, against the numbers the file holds
  (:func:`check_spec_size`), before the model is built;
* every random-stream state (:func:`decode_rng_states`): a known NumPy bit generator, the same
  structure as a fresh one's state (plain integers and flat arrays of its own dtype, never a
  dtype string that could describe a 800 MB sub-array), set on a fresh generator first;
* the optimizer state (:func:`optimizer_state`): the param groups' layout, each hyperparameter
  of the type the optimizer's defaults have, and each parameter's state with exactly the keys
  and kinds one real step of the same optimizer produces; then one step of a one-element
  probe optimizer with the loaded hyperparameters and state, so a ``step`` of 0 (a division
  by zero in Adam's bias correction), a missing AMSGrad buffer or a string where a number
  belongs fails here and not in ``optimizer.step()`` epochs later.

Every failure is a :class:`CheckpointError` naming the file and the field.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings

import numpy as np

__all__ = ["CheckpointError", "check_meta", "check_spec_size", "decode_rng_states", "like_state", "nonfinite_state",
           "optimizer_state", "probe_scheduler"]

_OPT = "optimizer/state/"
_MAX_INT = 2**53  # counters (epochs, steps) beyond this are not exact as floats: a damaged file
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class CheckpointError(ValueError):
    """A checkpoint file is unreadable (truncated, corrupt, not a checkpoint) or does not fit the model/optimizer.

    The message names the file and says exactly what is wrong.
    """


def _count(v, low=0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and low <= v <= _MAX_INT


def _number(v) -> bool:
    """A JSON number that converts to float (NaN and inf included; an int past float's range not)."""
    return isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**1000)


def _finite(v) -> bool:
    return _number(v) and math.isfinite(float(v))


def _json_scalar(v) -> bool:
    return v is None or isinstance(v, (bool, str)) or _finite(v)


class _Bad:
    """Raises CheckpointError for a metadata field: ``bad("epoch", "an integer >= 0")``."""

    def __init__(self, path, meta):
        self.path, self.meta = path, meta

    def __call__(self, field, expected):
        value = self.meta
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        raise CheckpointError(f"{self.path}: corrupt checkpoint metadata: {field!r} must be {expected}; got "
                              f"{type(value).__name__} {value!r:.80}.")


# ---------------------------------------------------------------- the metadata's schema
def check_meta(path, meta: dict) -> None:
    """Every field of the metadata has the type and range :func:`checkpoint_bytes` writes, or CheckpointError."""
    bad = _Bad(path, meta)
    for key in ("nnbasics_version", "numpy_version", "python_version", "sha256"):
        if not isinstance(meta.get(key, ""), str):
            bad(key, "a string")
    _check_model_meta(meta, bad)
    if meta.get("epoch") is not None and not _count(meta["epoch"]):
        bad("epoch", f"an integer in [0, {_MAX_INT}] or null")
    rng = meta.get("rng_states")
    if rng is not None and not (isinstance(rng, dict) and all(isinstance(v, dict) for v in rng.values())):
        bad("rng_states", "an object of bit_generator.state objects")
    if meta.get("optimizer") is not None:
        _check_optimizer_meta(meta["optimizer"], bad)
    if meta.get("history") is not None:
        _check_history(meta["history"], bad)


def _check_model_meta(meta, bad):
    model = meta.get("model")
    if model is None:
        return
    if not isinstance(model, dict):
        bad("model", "an object")
    if not isinstance(model.get("class"), (str, type(None))):
        bad("model.class", "a string")
    if not isinstance(model.get("spec"), (dict, type(None))):
        bad("model.spec", "an object (a model spec) or null")
    keys = model.get("keys")
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        bad("model.keys", "a list of strings")


def _check_optimizer_meta(opt, bad):
    if not isinstance(opt, dict) or not isinstance(opt.get("class"), str):
        bad("optimizer", "an object with a 'class' string")
    groups = opt.get("param_groups")
    if not (isinstance(groups, list) and groups and all(isinstance(g, dict) for g in groups)):
        bad("optimizer.param_groups", "a non-empty list of objects")
    for g in groups:
        params = g.get("params")
        if not (isinstance(params, list) and all(_count(i) for i in params)):
            bad("optimizer.param_groups", "param groups whose 'params' are lists of parameter indices")
    scalars = opt.get("scalar_state", {})
    if not (isinstance(scalars, dict) and all(k.isdigit() and k.isascii() and isinstance(v, dict)
                                              and all(_json_scalar(x) for x in v.values())
                                              for k, v in scalars.items())):
        bad("optimizer.scalar_state", "an object {parameter index: {name: number}}")
    if "step" in opt and not _finite(opt["step"]):
        bad("optimizer.step", "a number")


def _check_history(hist, bad):
    if not (isinstance(hist, dict) and isinstance(hist.get("epoch"), list) and isinstance(hist.get("history"), dict)):
        bad("history", "an object {'epoch': [...], 'history': {name: [...]}}")
    if not all(_count(e) for e in hist["epoch"]):
        bad("history.epoch", "a list of epoch indices (integers >= 0)")
    n = len(hist["epoch"])
    for k, col in hist["history"].items():
        if not (isinstance(col, list) and len(col) == n and all(x is None or _number(x) for x in col)):
            raise CheckpointError(f"{bad.path}: corrupt checkpoint metadata: history[{k!r:.60}] must be a list of "
                                  f"{n} numbers (one per epoch).")


# ---------------------------------------------------------------- sizes
def check_spec_size(path, spec: dict, arrays: dict) -> None:
    """Refuse a spec whose model would hold more numbers than about twice what the file stores.

    Counted from the spec alone (:func:`nnbasics.models.size.spec_size`), before anything is
    built: a 2 KB header cannot ask for a 30 GiB model. A spec that cannot be counted (a
    model registered by the user) is held to the absolute cap only.
    """
    from ..models.size import spec_size
    from ..models.spec import SpecError, check_size

    stored = sum(int(a.size) for k, a in arrays.items() if not k.startswith(_OPT))
    limit = 2 * stored + 2**16 if spec_size(spec) is not None else None
    try:
        check_size(spec, limit, why=f"but the file stores {stored:,} (the spec does not describe these weights)")
    except SpecError as e:
        raise CheckpointError(f"{path}: {e}") from None


# ---------------------------------------------------------------- random streams
def _like(ref, value, where):
    """``value`` shaped like the JSON-encoded reference state ``ref``, decoded; ValueError naming ``where``."""
    if isinstance(ref, dict) and "__ndarray__" in ref:
        dt = np.dtype(ref["dtype"])  # the fresh generator's own plain unsigned dtype, never the file's string
        top = 2 ** (8 * dt.itemsize)
        if not (isinstance(value, dict) and set(value) == {"__ndarray__", "dtype"} and value["dtype"] == ref["dtype"]
                and isinstance(value["__ndarray__"], list) and len(value["__ndarray__"]) == len(ref["__ndarray__"])
                and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < top
                        for x in value["__ndarray__"])):
            raise ValueError(f"{where} must be {len(ref['__ndarray__'])} integers of dtype {ref['dtype']}")
        return np.array(value["__ndarray__"], dtype=dt)
    if isinstance(ref, dict):
        if not isinstance(value, dict) or set(value) != set(ref):
            raise ValueError(f"{where} must have the keys {sorted(ref)}")
        return {k: _like(ref[k], value[k], f"{where}.{k}") for k in ref}
    if isinstance(ref, bool) or isinstance(value, bool):
        if type(value) is not type(ref):
            raise ValueError(f"{where} must be a {type(ref).__name__}")
        return value
    if isinstance(ref, int):
        if not (isinstance(value, int) and 0 <= value < 2**256):
            raise ValueError(f"{where} must be an integer >= 0")
        return value
    if isinstance(ref, float):
        if not _finite(value):
            raise ValueError(f"{where} must be a finite number")
        return float(value)
    if value != ref:
        raise ValueError(f"{where} must be {ref!r}")
    return value


def decode_rng_states(path, saved: dict) -> dict:
    """Every saved random-stream state, checked and decoded: ``{name: bit_generator.state}``.

    Each must name a NumPy bit generator, have exactly the structure of a fresh one's state,
    and be accepted by a fresh one (so setting it on the real generator later cannot fail).
    """
    from .checkpoint import encode_rng_state

    out = {}
    for name, state in (saved or {}).items():
        kind = state.get("bit_generator")
        if kind not in _BIT_GENERATORS:
            raise CheckpointError(f"{path}: random stream {name!r:.80} names the bit generator {kind!r:.40}; "
                                  f"a checkpoint holds NumPy's ({', '.join(_BIT_GENERATORS)}).")
        fresh = getattr(np.random, kind)(0)
        try:
            decoded = _like(encode_rng_state(fresh.state), state, f"rng_states[{name!r:.80}]")
            fresh.state = decoded
        except (ValueError, TypeError, KeyError, OverflowError) as e:
            raise CheckpointError(f"{path}: corrupt random stream {name!r:.80}: {e}.") from None
        out[name] = decoded
    return out


# ---------------------------------------------------------------- optimizer state
def _hyper_ok(default, value) -> bool:
    """``value`` is of the kind of the optimizer's default: bool, number, pair of numbers, string or None."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, numbers.Real):
        return _finite(value)
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list)) and len(value) == len(default) and all(
            _hyper_ok(d, v) for d, v in zip(default, value))
    if default is None:
        return _json_scalar(value)
    if isinstance(default, str):
        return isinstance(value, str)
    return False


def _groups(path, optimizer, saved) -> list:
    """The saved param groups, checked against the optimizer's layout and defaults, tuples restored."""
    name = type(optimizer).__name__
    saved_groups = saved["param_groups"]
    if len(saved_groups) != len(optimizer.param_groups):
        raise CheckpointError(f"{path}: the optimizer state does not fit the optimizer given: the checkpoint's {name} "
                              f"has {len(saved_groups)} param group(s), the optimizer given "
                              f"{len(optimizer.param_groups)}; build it over the same groups.")
    groups, start = [], 0
    for gi, (g, own) in enumerate(zip(saved_groups, optimizer.param_groups)):
        n = len(own["params"])
        if g["params"] != list(range(start, start + n)):
            raise CheckpointError(f"{path}: the optimizer state does not fit the optimizer given: param group {gi} of "
                                  f"the checkpoint lists parameters {g['params']!r:.80}; the optimizer given has {n} "
                                  f"there (indices {start}..{start + n - 1}).")
        start += n
        out = {}
        for k, v in g.items():
            if k == "params":
                continue
            if k in optimizer.defaults:
                if not _hyper_ok(optimizer.defaults[k], v):
                    raise CheckpointError(f"{path}: corrupt optimizer state: param group {gi}: {k!r:.40} = {v!r:.60} "
                                          f"is not of the kind of {name}'s {k} ({optimizer.defaults[k]!r}).")
                v = tuple(v) if isinstance(optimizer.defaults[k], tuple) else v
            elif not _json_scalar(v):  # extras such as a scheduler's initial_lr
                raise CheckpointError(f"{path}: corrupt optimizer state: param group {gi}: {k!r:.40} = {v!r:.60}.")
            out[k] = v
        for k in optimizer.defaults:  # a hyperparameter added since the file was saved: the optimizer's value,
            out.setdefault(k, copy.deepcopy(own[k]))  # as torch's Optimizer.__setstate__ fills in new defaults
        try:
            optimizer._check_hyperparams(dict(out), where=f" (param group {gi} of {path})")
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: {e}") from None
        groups.append(out)
    return groups


def _per_param_state(path, optimizer, saved, arrays) -> dict:
    """``{param index: {name: value}}`` from the scalar metadata and the ``optimizer/state/...`` arrays."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    state = {}
    for idx, scalars in saved.get("scalar_state", {}).items():
        state.setdefault(int(idx), {}).update(scalars)
    for key, arr in arrays.items():
        if not key.startswith(_OPT):
            continue
        idx, _, name = key[len(_OPT):].partition("/")
        if not (idx.isdigit() and idx.isascii() and name and "/" not in name):
            raise CheckpointError(f"{path}: corrupt checkpoint: bad optimizer array name {key!r:.100}.")
        i = int(idx)
        if i < len(params) and (arr.shape != params[i].shape or arr.dtype.kind != "f"):
            raise CheckpointError(f"{path}: optimizer state {key!r:.100} is {arr.dtype} {arr.shape}; the parameter is "
                                  f"{params[i].dtype} {tuple(params[i].shape)}: the state belongs to another model.")
        state.setdefault(i, {})[name] = arr
    extra = [i for i in state if i >= len(params)]
    if extra:
        raise CheckpointError(f"{path}: the checkpoint holds optimizer state for parameter {extra[0]}, but the "
                              f"optimizer given has {len(params)} parameters.")
    return state


def _first(a, dtype):
    """The first element of a state array as a 1-element array (zeros for an empty parameter's)."""
    return a.reshape(-1)[:1].astype(dtype) if a.size else np.zeros(1, dtype=dtype)


def _probe(optimizer, group: dict, dtype, state=None):
    """One step of a copy of ``optimizer`` over a single zero parameter: its state afterwards."""
    from ..nn import Parameter
    from ..tensor import as_tensor

    p = Parameter(np.zeros(1, dtype=dtype))
    p.grad = as_tensor(np.ones(1, dtype=dtype))
    probe = copy.copy(optimizer)  # NOTE: the real optimizer's groups and state are never touched
    probe.param_groups = [{**group, "params": [p]}]
    probe.state = [[{k: (_first(v, dtype) if isinstance(v, np.ndarray) else copy.deepcopy(v))
                     for k, v in (state or {}).items()}]]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        probe.step()
    return probe.state[0][0]


def _kind(v) -> str:
    if isinstance(v, np.ndarray):
        return "array"
    if isinstance(v, bool):
        return "bool"
    return "int" if isinstance(v, numbers.Integral) else "float" if isinstance(v, numbers.Real) else type(v).__name__


def _check_param_state(path, optimizer, gi, group, dtype, idx, state):
    """The state of parameter ``idx`` has the keys and kinds of a real step's, and one probe step works."""
    try:
        _probe(optimizer, optimizer.param_groups[gi] | {"params": None}, dtype)
    except Exception:  # noqa: BLE001 - this optimizer cannot be probed on one element; the schema stands alone
        return
    try:
        ref = _probe(optimizer, group, dtype)
    except Exception as e:  # noqa: BLE001 - the loaded hyperparameters are what changed
        raise CheckpointError(f"{path}: the optimizer's saved hyperparameters (param group {gi}) cannot take a "
                              f"step: {type(e).__name__}: {e}") from None
    kinds = {k: _kind(v) for k, v in state.items()}
    want = {k: _kind(v) for k, v in ref.items()}
    if kinds.keys() != want.keys() or any(kinds[k] != w and not (w == "float" and kinds[k] == "int")
                                          for k, w in want.items()):
        raise CheckpointError(f"{path}: corrupt optimizer state for parameter {idx}: {kinds} where "
                              f"{type(optimizer).__name__} keeps {want}.")
    bad = [k for k, v in state.items() if isinstance(v, int) and not (_count(v, low=0))]
    if bad:
        raise CheckpointError(f"{path}: corrupt optimizer state for parameter {idx}: {bad[0]} = {state[bad[0]]!r:.40}.")
    try:
        _probe(optimizer, group, dtype, state)
    except Exception as e:  # noqa: BLE001 - what optimizer.step() would have raised mid-training
        raise CheckpointError(f"{path}: the saved optimizer state of parameter {idx} cannot take a step "
                              f"({type(e).__name__}: {e}); the checkpoint is damaged.") from None


def optimizer_state(path, optimizer, meta: dict, arrays: dict) -> dict:
    """The optimizer's ``state_dict`` from the checkpoint, checked completely (see the module docstring).

    Returns:
        ``{"state": {index: {name: value}}, "param_groups": [...]}`` ready for
        ``optimizer.load_state_dict``, which can then not fail.
    """
    saved = meta.get("optimizer")
    if saved is None:
        raise CheckpointError(f"{path}: the checkpoint holds no optimizer state (saved without optimizer=).")
    name = type(optimizer).__name__
    if saved["class"] != name:
        raise CheckpointError(f"{path}: the checkpoint holds {saved['class']:.60} state, but the optimizer given is a "
                              f"{name}; build a {saved['class']:.60} over the model's parameters.")
    groups = _groups(path, optimizer, saved)
    state = _per_param_state(path, optimizer, saved, arrays)
    owner, start = {}, 0
    for gi, g in enumerate(optimizer.param_groups):
        for k, p in enumerate(g["params"]):
            owner[start + k] = (gi, p)
        start += len(g["params"])
    for idx in sorted(state):
        gi, p = owner[idx]
        _check_param_state(path, optimizer, gi, groups[gi], p.dtype, idx, state[idx])
    bad = [f"{i}.{k}" for i, s in state.items() for k, v in s.items()
           if isinstance(v, np.ndarray) and not np.isfinite(v).all()]
    if bad:
        warnings.warn(f"{path}: the optimizer state holds non-finite values ({', '.join(bad[:3])}); the parameters "
                      "they scale will not move (or become NaN) when training resumes.", RuntimeWarning, stacklevel=3)
    return {"state": state, "param_groups": [{**g, "params": saved_g["params"]}
                                             for g, saved_g in zip(groups, saved["param_groups"])]}


def nonfinite_state(optimizer) -> list:
    """``["<param index>.<name>", ...]`` for every optimizer state value that is NaN or infinite."""
    bad, start = [], 0
    for group, states in zip(optimizer.param_groups, getattr(optimizer, "state", [])):
        for i, s in enumerate(states):
            for k, v in s.items():
                a = np.asarray(v)  # an array, or a Tensor through __array__
                finite = (np.isfinite(a).all() if isinstance(a, np.ndarray) and a.dtype.kind in "fc"
                          else not isinstance(a, float) or math.isfinite(a))
                if not finite:
                    bad.append(f"{start + i}.{k}")
        start += len(group["params"])
    return bad


def like_state(ref, value, where: str = "state"):
    """``value`` (read back from JSON) checked to have the structure and kinds of the live state ``ref``.

    Used for the callbacks' and learning-rate schedulers' saved states, which are loaded into
    the objects' attributes: dicts may hold only the reference's keys (a missing one keeps the
    live value, as a state saved before the key existed), lists the same length (tuples come back
    as tuples), ints stay ints (within 2^53), floats are numbers (not NaN), bools stay bools,
    strings (modes, names) must be equal; where ``ref`` is None any JSON scalar is accepted.

    Returns:
        A fresh copy of ``value`` in ``ref``'s types. Raises ValueError naming the field.
    """
    if isinstance(ref, dict):
        if not isinstance(value, dict) or not set(value) <= set(ref):
            raise ValueError(f"{where} must have (some of) the keys {sorted(ref)!r:.200}; got {value!r:.100}")
        # a key the saved state lacks (added in a later version) keeps the live value
        return {k: like_state(ref[k], value[k], f"{where}[{k!r}]") if k in value else copy.deepcopy(ref[k])
                for k in ref}
    if isinstance(ref, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(ref):
            raise ValueError(f"{where} must be a list of {len(ref)}; got {value!r:.100}")
        return type(ref)(like_state(r, v, f"{where}[{i}]") for i, (r, v) in enumerate(zip(ref, value)))
    if ref is None:
        if not _json_scalar(value) and not (isinstance(value, float) and not math.isnan(value)):
            raise ValueError(f"{where} must be a number, a string, a bool or null; got {value!r:.100}")
        return value
    if isinstance(ref, bool):
        ok = isinstance(value, bool)
    elif isinstance(ref, numbers.Integral):
        ok = _count(value, low=-_MAX_INT)
    elif isinstance(ref, numbers.Real):
        ok = _number(value) and not math.isnan(float(value))
        value = float(value) if ok else value
    elif isinstance(ref, str):
        ok = value == ref
    else:
        ok = type(value) is type(ref) and value == ref
    if not ok:
        raise ValueError(f"{where} must be {'equal to ' if isinstance(ref, str) else 'like '}{ref!r:.60}; "
                         f"got {value!r:.100}")
    return value


def _counters(state, where="state"):
    """Every ``last_epoch`` in a (nested) scheduler state is within [-1, 2^31]: stepping up to an epoch ends."""
    if isinstance(state, dict):
        for k, v in state.items():
            if k == "last_epoch" and not (isinstance(v, int) and -1 <= v <= 2**31):
                raise ValueError(f"{where}[{k!r}] must be an int in [-1, 2^31]; got {v!r:.60}")
            _counters(v, f"{where}[{k!r}]")
    elif isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            _counters(v, f"{where}[{i}]")


def probe_scheduler(scheduler, state: dict, metric=None) -> None:
    """Load ``state`` into a copy of ``scheduler`` driving a copy of its optimizer's groups, and step it once.

    The learning rates it then sets must be finite and >= 0. ValueError otherwise (a decay
    factor of -1e308 overflows in ``gamma ** k``; a ``last_epoch`` of -2^53 would take 2^53
    steps to reach the resumed epoch). The real scheduler and optimizer are not touched.
    """
    _counters(state)
    opt = scheduler.optimizer
    po = copy.copy(opt)
    po.param_groups = [{**{k: copy.deepcopy(v) for k, v in g.items() if k != "params"}, "params": []}
                       for g in opt.param_groups]
    probe = copy.deepcopy(scheduler, memo={id(opt): po})  # NOTE: the parameters are never copied
    try:
        probe.load_state_dict(copy.deepcopy(state))
        if metric is None:
            probe.step()
        else:  # ReduceLROnPlateau
            probe.step(metric)
    except Exception as e:  # noqa: BLE001 - what the scheduler would raise at the next epoch
        raise ValueError(f"the saved state cannot step the {type(scheduler).__name__}: {type(e).__name__}: {e}") from None
    lrs = [g.get("lr") for g in po.param_groups]
    if not all(_finite(lr) and lr >= 0 for lr in lrs):
        raise ValueError(f"the saved state makes the {type(scheduler).__name__} set learning rates {lrs!r:.100}")
