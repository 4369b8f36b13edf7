"""Every primitive has an ONNX mapping or a deliberate refusal, and every mapping is exercised.

Primitives are found, not listed: every Function subclass defined anywhere in the nnbasics
package (all its modules are imported), and every name passed to autograd.record_op (the
primitives that are not Functions: comparisons, integer casts, argmax...). A new op therefore
fails this test until it is mapped in nnbasics/onnx/ops_*.py (and given a case in
primitive_cases.py) or refused with a reason.
"""

import ast
import importlib
import pathlib
import pkgutil

import numpy as np
from primitive_cases import CASES, Fn

import nnbasics
import nnbasics.onnx.emit  # registers the mappings
from nnbasics import as_tensor
from nnbasics.autograd import Function
from nnbasics.onnx.mapping import MAPPINGS, REFUSALS
from nnbasics.onnx.trace import trace

SRC = pathlib.Path(nnbasics.__file__).parent


def _functions():
    for mod in pkgutil.walk_packages(nnbasics.__path__, "nnbasics."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    seen, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    # classes named _X are abstract bases (reduce._Extreme); ops defined by tests are not the library's;
    # a kernel (nnbasics.kernels) is recorded as the reference op it implements (Function.apply passes cls)
    return {c for c in seen if c.__module__.startswith("nnbasics.") and not c.__name__.startswith("_")
            and not c.__module__.startswith("nnbasics.kernels.")}


def _record_op_names():
    names = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "record_op":
                if path.name == "autograd.py" and not (node.args and isinstance(node.args[0], ast.Constant)):
                    continue  # Function.apply's own call, with the op class
                first = node.args[0] if node.args else None
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), \
                    f"{path}:{node.lineno}: record_op must name the primitive with a string literal"
                names.setdefault(first.value, f"{path.name}:{node.lineno}")
    return names


def test_every_function_subclass_is_mapped_or_refused():
    functions = _functions()
    assert len(functions) > 50  # the discovery works
    missing = sorted(f"{c.__module__}.{c.__name__}" for c in functions if c not in MAPPINGS and c not in REFUSALS)
    assert not missing, f"primitives with neither an ONNX mapping nor a refusal: {missing}"


def test_every_recorded_primitive_name_is_mapped_or_refused():
    names = _record_op_names()
    assert {"compare", "cast", "argmax", "argmin"} <= set(names)
    missing = {n: where for n, where in names.items() if n not in MAPPINGS and n not in REFUSALS}
    assert not missing, f"record_op names with no mapping: {missing}"


def test_every_mapping_is_exercised_by_a_case(rng):
    ran = set()
    for forward, inputs, params in CASES.values():
        model = Fn(forward, **params).eval()
        xs = [as_tensor(a) for a in inputs(3, rng)]
        ran |= {r.op for r in trace(model, xs, xs).records}
    unexercised = sorted(getattr(op, "__name__", op) for op in MAPPINGS if op not in ran)
    assert not unexercised, f"mapped primitives without a case in primitive_cases.py: {unexercised}"


def test_refusals_give_a_reason():
    for op, reason in REFUSALS.items():
        assert isinstance(reason, str) and len(reason) > 20, op


def test_all_array_params_of_cases_are_resolved(rng):
    """Arrays an op receives (where's condition, index arrays) are traced references, not bare arrays."""
    for forward, inputs, params in CASES.values():
        model = Fn(forward, **params).eval()
        xs = [as_tensor(a) for a in inputs(3, rng)]

        def walk(v):
            assert not isinstance(v, np.ndarray)
            if isinstance(v, (tuple, list)):
                for e in v:
                    walk(e)
            elif isinstance(v, dict):
                for e in v.values():
                    walk(e)
        for r in trace(model, xs, xs).records:
            walk(r.params)
