"""The ``ensemble`` entry of the model registry: K member specs and a combination rule.

:func:`nnbasics.training.train_ensemble` records ``model.spec = {"model": "ensemble",
"members": [...], "combine": ..., "seeds": [...]}``; this factory builds that spec back,
so a checkpoint of an ensemble rebuilds it like any other model (``load_checkpoint(path)``,
``nnbasics evaluate RUN``).

Example:
    >>> from nnbasics.models import build_model
    >>> member = {"model": "mlp", "in_features": 2, "hidden": [4], "out_features": 3}
    >>> ens = build_model("ensemble", members=[member, member], combine="vote", seeds=[0, 1])
    >>> len(ens), ens.combine, ens.spec["seeds"]
    (2, 'vote', [0, 1])
"""

from __future__ import annotations

from .._validate import is_int
from ..rng import as_generator
from .registry import register_model

__all__ = ["ensemble"]


@register_model("ensemble", description="K member specs combined by mean, vote, geomean or logit_sum (train_ensemble)")
def ensemble(*, members, combine="mean", seeds=None, rng=None):
    """An :class:`~nnbasics.training.ensemble.Ensemble` of models built from specs.

    Args:
        members: a non-empty list of model specs (dicts, as :func:`~nnbasics.models.spec.build_from_spec` takes).
        combine: ``"mean"``, ``"vote"``, ``"geomean"`` or ``"logit_sum"``.
        seeds: one int per member: member k is initialized exactly as ``train_ensemble`` seeds it
            (its initial weights, before training). None: every member draws from ``rng``.
        rng: Generator, int seed or None (used when ``seeds`` is None).

    Returns:
        Ensemble.
    """
    from ..training.ensemble import Ensemble, member_rngs
    from .spec import build_from_spec

    if not isinstance(members, (list, tuple)) or not members or not all(isinstance(m, dict) for m in members):
        raise ValueError(f"ensemble: members must be a non-empty list of model specs (dicts). Got {members!r:.100}.")
    if seeds is not None:
        if (not isinstance(seeds, (list, tuple)) or len(seeds) != len(members)
                or any(not is_int(s) or s < 0 for s in seeds)):
            raise ValueError(f"ensemble: seeds must be one int >= 0 per member ({len(members)}). Got {seeds!r}.")
        built = [build_from_spec(m, rng=member_rngs(int(s))[0]) for m, s in zip(members, seeds)]
    else:
        g = as_generator(rng)
        built = [build_from_spec(m, rng=g) for m in members]
    return Ensemble(built, combine=combine)
