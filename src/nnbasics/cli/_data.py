"""Names the commands accept (datasets, models, inits) and a dataset split loaded as a run asks."""

from __future__ import annotations

from ._options import UsageError

#: Generated data larger than this is refused before it is made (its inputs as float32).
_MAX_GENERATED_BYTES = 2 << 30

__all__ = ["class_names", "dataset_names", "init_names", "load_split", "model_names", "stratified_slice"]


def init_names():
    """Every ``--init`` value: the schemes and their aliases."""
    from ..models.mlp import ACTIVATION_ALIASES, INIT_SCHEMES

    return tuple(INIT_SCHEMES) + tuple(ACTIVATION_ALIASES)


def model_names():
    """Every registered model name."""
    from ..models import available_models

    return tuple(available_models())


def dataset_names():
    """Every dataset name of the catalog."""
    from ..data.catalog import DATASETS

    return tuple(DATASETS)


def class_names(dataset, n_classes=None):
    """The class names of ``dataset`` in label order (None when its labels are just numbers or do not match)."""
    from ..data.catalog import DATASETS

    info = DATASETS.get(dataset) if isinstance(dataset, str) else None
    names = None if info is None else info.classes
    if names is None or (n_classes is not None and len(names) != n_classes):
        return None
    return tuple(names)


def load_split(config, split, n):
    """``(info, X, y)``: ``split`` of ``config["dataset"]``, ``n`` samples (generated: drawn from the run's seed;
    file: a class-balanced slice), or a :class:`UsageError` saying what is missing."""
    import numpy as np

    from ..data import load_dataset
    from ..data.catalog import DATASETS

    info = DATASETS[config["dataset"]]
    kwargs = {}
    if info.kind == "generated" and n:
        per_sample = 4 * max(1, int(np.prod(info.input_shape or (1,))))
        if n * per_sample > _MAX_GENERATED_BYTES:
            flag = "--n-train" if split == "train" else "--n-test"
            raise UsageError(f"{flag} {n:,}: too many samples; {config['dataset']} would need "
                             f"{n * per_sample / 2**30:,.1f} GiB (at most {_MAX_GENERATED_BYTES // per_sample:,} "
                             "samples). Ask for fewer.")
    if info.kind == "generated":
        kwargs = {"rng": config["seed"], **({"n": n} if n else {})}
    else:
        kwargs = {"root": config.get("data_root"), "download": config.get("download", True)}
    try:
        X, y = load_dataset(config["dataset"], split, **kwargs)
        if n and info.kind == "file":
            X, y = stratified_slice(X, y, n, config["seed"], split)
    except (OSError, ValueError, TypeError) as e:
        raise UsageError(f"dataset {config['dataset']!r} ({split}): {e}") from None
    return info, X, y


def stratified_slice(X, y, n, seed, split):
    """``n`` samples of a file dataset, the same number of each class (the lab's 300/1,000-sample slices).

    Drawn from ``default_rng([seed, 0 or 1])`` (train/test), so a run's slice is reproducible from its seed.
    """
    import numpy as np

    from ..data import stratified_subset

    if n >= len(y):
        return X, y
    idx = stratified_subset(y, n, rng=np.random.default_rng([int(seed), ("train", "test").index(split)]))
    return X[idx], y[idx]
