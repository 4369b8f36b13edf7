"""Ensembles: combine K trained models, report each member against the whole, train members in parallel.

An ensemble averages away the members' independent errors (the lecture's second cure for
overfitting, beside regularization). :class:`Ensemble` combines the members' class scores:

=============  ===============================================================================
combine        ensemble probability p(c | x) from the members' logits z_k and p_k = softmax(z_k)
=============  ===============================================================================
``mean``       (1/K) sum_k p_k(c)                  -- soft voting; the default
``geomean``    normalized prod_k p_k(c)^(1/K)      = softmax((1/K) sum_k log p_k)
``logit_sum``  softmax(sum_k z_k)                  = normalized prod_k p_k(c) (sharper than geomean)
``vote``       fraction of members whose argmax is c; ties go to the class of highest mean p
=============  ===============================================================================

``geomean`` and ``logit_sum`` always pick the same class; they differ in confidence. A
member with one output (a binary logit z) counts as two classes with logits (0, z).

:func:`train_ensemble` trains K members, one seed each, through any
:class:`concurrent.futures.Executor`: a local process pool by default, ``"serial"`` for
debugging, or the executor of a cluster passed in unchanged -- a Dask ``distributed`` client's
``client.get_executor()`` (or the client itself), the ``ray`` module itself after ``ray.init()``
(Ray has no ``concurrent.futures.Executor``; :class:`RayExecutor` submits each member as a Ray
task and hands back ``ObjectRef.future()``), or anything with ``submit``. Workers
receive only picklable data (the spec as a dict, the seed, the arrays, the training settings)
and return the trained state dict as NumPy arrays; the parent rebuilds each member from the
spec, so the same seeds give bit-identical members on every executor.

Example:
    >>> from nnbasics.data import synthetic
    >>> X, y = synthetic.blobs(n_samples=200, centers=3, rng=0)   # doctest: +SKIP
    >>> spec = {"model": "mlp", "in_features": 2, "hidden": [16], "out_features": 3}
    >>> ens = train_ensemble(spec, (X, y), n_members=4, epochs=5, executor="serial")  # doctest: +SKIP
    >>> print(ens.report(X, y))   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import Future

import numpy as np

from .. import nn
from .._validate import check_positive_int, is_int
from ..autograd import no_grad
from ..functional import log_softmax
from ..ops import cat, logsumexp, stack
from ..tensor import Tensor, as_tensor
from .executors import RayExecutor, SerialExecutor, resolve_executor, usable_cpus

__all__ = ["COMBINE_RULES", "Ensemble", "EnsembleReport", "RayExecutor", "SerialExecutor", "train_ensemble",
           "usable_cpus"]

#: the valid values of ``Ensemble(combine=...)``.
COMBINE_RULES = ("mean", "vote", "geomean", "logit_sum")


def _check_combine(combine, owner):
    if combine not in COMBINE_RULES:
        raise ValueError(f"{owner}: combine must be one of {', '.join(COMBINE_RULES)}; got {combine!r}.")
    return combine


def _as_tensor(x):
    return as_tensor(np.asarray(x)) if not isinstance(x, Tensor) else x


def _two_class(z):
    """(N, 1) binary logits -> (N, 2) logits (0, z); (N, C) unchanged."""
    if z.ndim == 2 and z.shape[1] == 1:
        return cat([as_tensor(np.zeros(z.shape, dtype=z.dtype)), z], 1)
    if z.ndim != 2:
        raise ValueError(f"Ensemble expected each member to return class scores of shape (N, C); got shape "
                         f"{tuple(z.shape)}.")
    return z


@dataclasses.dataclass
class EnsembleReport:
    """Each member's accuracy against the ensemble's, and how much the members disagree.

    Attributes:
        combine: the combination rule.
        member_accuracy: accuracy of each member, in order.
        ensemble_accuracy: accuracy of the combined prediction.
        pairwise_disagreement: mean over member pairs of the fraction of samples on which the
            two predict different labels (0 for one member).
        disagreement_rate: fraction of samples on which not all members predict the same label.
        oracle_accuracy: fraction of samples that at least one member gets right (an upper
            bound no combination of these labels can beat).
        n_samples: number of samples.
    """

    combine: str
    member_accuracy: list
    ensemble_accuracy: float
    pairwise_disagreement: float
    disagreement_rate: float
    oracle_accuracy: float
    n_samples: int

    @property
    def best_member_accuracy(self) -> float:
        return max(self.member_accuracy)

    @property
    def mean_member_accuracy(self) -> float:
        return float(np.mean(self.member_accuracy))

    @property
    def gain_over_best(self) -> float:
        """ensemble accuracy - best member's accuracy (negative when the ensemble is worse)."""
        return self.ensemble_accuracy - self.best_member_accuracy

    def to_dict(self) -> dict:
        """JSON-able dict, with the derived best/mean/gain figures."""
        d = dataclasses.asdict(self)
        d.update(best_member_accuracy=self.best_member_accuracy, mean_member_accuracy=self.mean_member_accuracy,
                 gain_over_best=self.gain_over_best)
        return d

    def __str__(self) -> str:
        lines = ["| model | accuracy |", "|---|---:|"]
        lines += [f"| member {i} | {a:.4f} |" for i, a in enumerate(self.member_accuracy)]
        lines.append(f"| ensemble ({self.combine}) | {self.ensemble_accuracy:.4f} |")
        lines.append("")
        lines.append(f"best member {self.best_member_accuracy:.4f}, mean member {self.mean_member_accuracy:.4f}, "
                     f"gain over best {self.gain_over_best:+.4f}; pairwise disagreement "
                     f"{self.pairwise_disagreement:.4f}, samples with any disagreement {self.disagreement_rate:.4f}, "
                     f"oracle {self.oracle_accuracy:.4f} ({self.n_samples} samples)")
        return "\n".join(lines)


class Ensemble(nn.Module):
    """K models whose class scores are combined into one prediction.

    A Module: ``ensemble(x)`` returns the ensemble's log-probabilities (N, C) (differentiable for
    every rule but ``vote``), so ``cross_entropy(ensemble(x), y)`` is the ensemble's negative
    log-likelihood and ``fit``/``evaluate``/checkpoints take it like any model
    (state-dict keys ``members.0.<member key>``...).

    Args:
        models: the members (Modules returning class logits (N, C), or (N, 1) binary logits).
        combine: ``'mean'``, ``'vote'``, ``'geomean'`` or ``'logit_sum'`` (module docstring).

    Shape:
        whatever the members take -> (N, C) log-probabilities.

    Example:
        >>> import nnbasics as nb
        >>> from nnbasics.models.mlp import mlp
        >>> ens = Ensemble([mlp(in_features=2, hidden=[4], out_features=3, rng=s) for s in range(3)])
        >>> ens.predict_proba(nb.randn(5, 2, rng=0)).shape, ens.predict(nb.randn(5, 2, rng=0)).shape
        ((5, 3), (5,))
    """

    def __init__(self, models, combine: str = "mean"):
        super().__init__()
        models = list(models) if not isinstance(models, nn.Module) else [models]
        if not models:
            raise ValueError("Ensemble needs at least one model; got an empty list.")
        for i, m in enumerate(models):
            if not isinstance(m, nn.Module):
                raise TypeError(f"Ensemble members must be Modules; member {i} is {type(m).__name__}.")
        self.members = nn.ModuleList(models)
        self.combine = _check_combine(combine, "Ensemble")
        self.seeds = None  # set by train_ensemble
        self.histories = None

    def __len__(self):
        return len(self.members)

    def extra_repr(self) -> str:
        return f"combine={self.combine!r}"

    # ------------------------------------------------------------- scores
    def member_logits(self, x) -> list:
        """Each member's (N, C) logits as Tensors (binary (N, 1) members as (N, 2))."""
        x = _as_tensor(x)
        return [_two_class(m(x)) for m in self.members]

    def forward(self, x):
        """Ensemble log-probabilities (N, C) under the ``combine`` rule."""
        logits = self.member_logits(x)
        shapes = {tuple(z.shape) for z in logits}
        if len(shapes) != 1:
            raise ValueError(f"Ensemble members disagree on the output shape: {sorted(shapes)}; every member must "
                             "predict the same classes.")
        k = len(logits)
        if self.combine == "mean":  # log((1/K) sum_k p_k), stably via logsumexp over the members
            return logsumexp(stack([log_softmax(z, -1) for z in logits], 0), 0) - math.log(k)
        if self.combine == "geomean":
            return log_softmax(sum(log_softmax(z, -1) for z in logits) / k, -1)
        if self.combine == "logit_sum":
            return log_softmax(sum(logits), -1)
        probs = self._vote_proba([z._array for z in logits])
        with np.errstate(divide="ignore"):
            return as_tensor(np.log(probs).astype(logits[0].dtype))  # -inf for classes nobody voted for

    @staticmethod
    def _softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def _vote_proba(self, logits):
        n, c = logits[0].shape
        votes = np.zeros((n, c))
        for z in logits:
            votes[np.arange(n), z.argmax(-1)] += 1
        return votes / len(logits)

    # ---------------------------------------------------------- numpy API
    def _eval_logits(self, x, batch_size):
        """Members' logits as ndarrays (K, N, C), in eval mode and without autograd."""
        x = x._array if isinstance(x, Tensor) else np.asarray(x)
        modes = [m.training for m in self.modules()]
        self.eval()
        try:
            with no_grad():
                n = len(x)
                step = n if batch_size is None else int(batch_size)
                chunks = [[z._array for z in self.member_logits(x[i:i + step])] for i in range(0, max(n, 1), step)]
        finally:
            for m, mode in zip(self.modules(), modes):
                m.training = mode
        return np.stack([np.concatenate([c[k] for c in chunks]) for k in range(len(self.members))])

    def _combine_np(self, logits):
        if self.combine == "vote":
            return self._vote_proba(list(logits))
        if self.combine == "mean":
            return np.mean([self._softmax(z.astype(np.float64)) for z in logits], 0)
        if self.combine == "geomean":
            logp = [z - z.max(-1, keepdims=True) for z in logits.astype(np.float64)]
            logp = [lp - np.log(np.exp(lp).sum(-1, keepdims=True)) for lp in logp]
            return self._softmax(np.mean(logp, 0))
        return self._softmax(logits.astype(np.float64).sum(0))

    def predict_proba(self, x, batch_size=None) -> np.ndarray:
        """Ensemble class probabilities (N, C), float64 (vote fractions for ``'vote'``), in eval mode.

        Args:
            x: inputs (ndarray or Tensor) the members take.
            batch_size: predict in chunks of this many samples (default: all at once).
        """
        return self._combine_np(self._eval_logits(x, batch_size))

    def predict(self, x, batch_size=None) -> np.ndarray:
        """Predicted labels (N,) int64; ``'vote'`` breaks ties by the highest mean probability."""
        logits = self._eval_logits(x, batch_size)
        return self._labels(logits)

    def _labels(self, logits):
        proba = self._combine_np(logits)
        if self.combine == "vote":  # votes differ by >= 1/K; the mean probability only breaks ties
            mean = np.mean([self._softmax(z.astype(np.float64)) for z in logits], 0)
            proba = proba + mean / (2 * len(logits))
        return proba.argmax(-1).astype(np.int64)

    def member_predictions(self, x, batch_size=None) -> np.ndarray:
        """Each member's predicted labels, (K, N) int64."""
        return self._eval_logits(x, batch_size).argmax(-1).astype(np.int64)

    def report(self, x, y, batch_size=None) -> EnsembleReport:
        """Each member's accuracy against the ensemble's, and the members' disagreement, on (x, y).

        Args:
            x: inputs; y: integer labels (N,) (ndarray or Tensor).

        Returns:
            EnsembleReport (``print`` it for a markdown table; ``.to_dict()`` for JSON).
        """
        y = np.asarray(y._array if isinstance(y, Tensor) else y).reshape(-1)
        logits = self._eval_logits(x, batch_size)
        if len(y) != logits.shape[1]:
            raise ValueError(f"Ensemble.report: got {logits.shape[1]} inputs but {len(y)} labels.")
        labels = logits.argmax(-1)  # (K, N)
        k = len(labels)
        member_acc = [float((lab == y).mean()) for lab in labels]
        ens_acc = float((self._labels(logits) == y).mean())
        pairs = [(labels[i] != labels[j]).mean() for i in range(k) for j in range(i + 1, k)]
        return EnsembleReport(
            combine=self.combine, member_accuracy=member_acc, ensemble_accuracy=ens_acc,
            pairwise_disagreement=float(np.mean(pairs)) if pairs else 0.0,
            disagreement_rate=float((labels != labels[:1]).any(0).mean()),
            oracle_accuracy=float((labels == y).any(0).mean()), n_samples=len(y),
        )


# ------------------------------------------------------------------ training
_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}


def make_optimizer(optimizer, params, lr=None, **kwargs):
    """An optimizer over ``params`` from a name (``sgd``, ``adam``, ``adamw``, ``rmsprop``, ``adagrad``)
    or a callable ``optimizer(params, **kw)`` (e.g. ``functools.partial(optim.SGD, momentum=0.9)``)."""
    from .. import optim

    if lr is not None:
        kwargs["lr"] = lr
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in _OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(_OPTIMIZERS)}.")
        return getattr(optim, _OPTIMIZERS[key])(params, **kwargs)
    if callable(optimizer):
        return optimizer(params, **kwargs)
    raise TypeError(f"optimizer must be a name ({', '.join(_OPTIMIZERS)}) or a callable(params); got {optimizer!r}.")


def member_rngs(seed):
    """Independent streams for a member's weights (and dropout) and its data order."""
    init, data = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(init), np.random.default_rng(data)


def _build_member(spec, factory, seed):
    init_rng, _ = member_rngs(seed)
    if spec is not None:
        from ..models.spec import build_from_spec

        return build_from_spec(spec, rng=init_rng)
    return factory(init_rng)


def default_trainer(model, train_arrays, validation_arrays, data_rng, settings):
    """Train one member with :func:`nnbasics.training.fit`; returns the History as a dict."""
    from ..data import DataLoader, TensorDataset
    from ..training import fit

    settings = dict(settings)
    loader = DataLoader(TensorDataset(*train_arrays), batch_size=settings.pop("batch_size"), shuffle=True,
                        rng=data_rng)
    val = None
    if validation_arrays is not None:
        val = DataLoader(TensorDataset(*validation_arrays), batch_size=max(256, loader.batch_size))
    opt = make_optimizer(settings.pop("optimizer"), model.parameters(), settings.pop("lr"),
                         **(settings.pop("optimizer_kwargs") or {}))
    settings.setdefault("progress", False)
    history = fit(model, loader, optimizer=opt, validation_data=val, **settings)
    return history.to_dict() if hasattr(history, "to_dict") else history


def _train_member(job: dict) -> dict:
    """Worker: build member ``job['seed']`` from the spec, train it, return its state as NumPy arrays.

    Top-level so that process pools (spawn) and Dask/Ray can pickle it by reference.
    """
    model = _build_member(job["spec"], job["factory"], job["seed"])
    _, data_rng = member_rngs(job["seed"])
    trainer = job["trainer"] or default_trainer
    history = trainer(model, job["train"], job["validation"], data_rng, job["settings"])
    state = {k: np.array(v._array, copy=True) for k, v in model.state_dict().items()}
    return {"seed": job["seed"], "state": state, "history": history}


def _arrays(data, what):
    """(X, y) arrays from a tuple/list of arrays or Tensors, or a dataset with ``tensors``/``arrays()``."""
    if data is None:
        return None
    if hasattr(data, "arrays") and callable(data.arrays):
        data = data.arrays()
    elif hasattr(data, "tensors"):
        data = data.tensors
    if not isinstance(data, (tuple, list)) or len(data) < 1:
        raise TypeError(f"train_ensemble: {what} must be a tuple (X, y) of arrays (or a TensorDataset); "
                        f"got {type(data).__name__}.")
    out = tuple(np.asarray(a._array if isinstance(a, Tensor) else a) for a in data)
    n = {len(a) for a in out}
    if len(n) != 1:
        raise ValueError(f"train_ensemble: the arrays of {what} have different lengths {sorted(n)}.")
    return out


def train_ensemble(spec_or_factory, train_data, *, n_members=None, seeds=None, executor=None, combine="mean",
                   validation_data=None, epochs=10, batch_size=32, optimizer="adam", lr=1e-3,
                   optimizer_kwargs=None, trainer=None, max_workers=None, finished=None, on_member=None,
                   **fit_kwargs) -> Ensemble:
    """Train ``n_members`` models, one seed each, in parallel through an Executor; return the Ensemble.

    Each member's seed drives its initial weights and dropout masks and, through an
    independent stream, its data order: seed s trains the same member on every executor.

    Args:
        spec_or_factory: a model spec (dict, TOML/JSON path or text; see
            :mod:`nnbasics.models.spec`), or a picklable callable ``factory(rng) -> Module``
            (a module-level function; lambdas work only with ``executor='serial'``/``'thread'``).
        train_data: ``(X, y)`` arrays (or a TensorDataset), sent to every worker.
        n_members: number of members (default ``len(seeds)``, else 5).
        seeds: one int seed per member (default ``0, 1, ..., n_members - 1``).
        executor: None or ``'process'`` (a local spawn process pool of
            ``min(n_members, max_workers or usable_cpus())`` workers; run in this process
            when that is 1), ``'serial'``, ``'thread'``, any ``concurrent.futures.Executor``
            (e.g. ``dask_client.get_executor()``, used and left running), a Dask Client, or
            the ``ray`` module (wrapped in :class:`RayExecutor`). NOTE: the local pool spawns its
            workers, which import the caller's ``__main__`` module: in a script, call
            ``train_ensemble`` under ``if __name__ == "__main__":``.
        combine: the Ensemble's rule (``mean``, ``vote``, ``geomean``, ``logit_sum``).
        validation_data: optional ``(X, y)`` evaluated each epoch by every member.
        epochs, batch_size, optimizer, lr, optimizer_kwargs: training settings; ``optimizer``
            is a name (sgd, adam, adamw, rmsprop, adagrad) or a picklable callable(params).
        trainer: optional picklable ``trainer(model, train_arrays, validation_arrays, data_rng,
            settings) -> history dict`` replacing the default (which calls ``fit``).
        max_workers: cap on the local pool's workers.
        finished: ``{seed: {"state": state dict of arrays, "history": dict}}`` of members already
            trained (an interrupted run's, read back from their checkpoints): they are not trained
            again. Each seed trains the same member anywhere, so the ensemble equals an
            uninterrupted run's.
        on_member: ``on_member(result)``, called in this process as each member finishes (in the
            order they finish) with ``{"seed", "state", "history"}``: to save it at once, so that an
            interruption keeps every finished member. An exception it raises stops the training.
        **fit_kwargs: passed to :func:`nnbasics.training.fit` (e.g. ``loss``, ``metrics``).

    Returns:
        Ensemble, with ``seeds`` and ``histories`` (one dict per member) set; built from a
        spec, it also records ``spec = {"model": "ensemble", "members": [...], "combine": ...,
        "seeds": [...]}``, so checkpoints rebuild it (``build_model(ensemble.spec)`` gives the
        members' initial weights; the checkpoint's weights then replace them).

    Raises:
        ValueError/TypeError: bad arguments or spec, before any worker starts.
        RuntimeError: a member failed; names its seed, the worker's error chained.
    """
    seeds = _check_seeds(n_members, seeds)
    _check_combine(combine, "train_ensemble")
    if callable(spec_or_factory) and not isinstance(spec_or_factory, (dict, str)):
        spec, factory = None, spec_or_factory
    else:
        from ..models.spec import load_spec

        spec, factory = load_spec(spec_or_factory), None
    train = _arrays(train_data, "train_data")
    validation = _arrays(validation_data, "validation_data")
    settings = {"epochs": epochs, "batch_size": check_positive_int(batch_size, "train_ensemble: batch_size"),
                "optimizer": optimizer, "lr": lr, "optimizer_kwargs": optimizer_kwargs, **fit_kwargs}
    # Fail fast, here, on a bad spec or optimizer: build the first member once.
    probe = _build_member(spec, factory, seeds[0])
    make_optimizer(optimizer, probe.parameters(), lr, **(optimizer_kwargs or {}))
    spec = spec if spec is None else getattr(probe, "spec", spec)
    done = _check_finished(finished, seeds)
    jobs = [{"spec": spec, "factory": factory, "seed": s, "train": train, "validation": validation,
             "settings": settings, "trainer": trainer} for s in seeds if s not in done]
    done.update({r["seed"]: r for r in _run_jobs(jobs, executor, max_workers, on_member)})
    return _assemble(spec, factory, [done[s] for s in seeds], seeds, combine)


def _assemble(spec, factory, results, seeds, combine) -> Ensemble:
    """The Ensemble of the trained members' ``results`` (one per seed, in order)."""
    members = []
    for res in results:
        model = _build_member(spec, factory, res["seed"])
        model.load_state_dict(res["state"])
        members.append(model)
    ensemble = Ensemble(members, combine=combine)
    ensemble.seeds = seeds
    ensemble.histories = [r["history"] for r in results]
    if spec is not None:
        ensemble.spec = {"model": "ensemble", "members": [spec] * len(seeds), "combine": combine,
                         "seeds": list(seeds)}
    return ensemble


def _check_seeds(n_members, seeds) -> list:
    """The members' seeds: ``seeds`` checked (distinct ints >= 0, as many as ``n_members``), else ``0..n-1``."""
    if seeds is None:
        n = 5 if n_members is None else n_members
        if not is_int(n) or n < 1:
            raise ValueError(f"train_ensemble: n_members must be a positive int; got {n_members!r}.")
        return list(range(int(n)))
    seeds = list(seeds)
    if not seeds or any(not is_int(s) or s < 0 for s in seeds):
        raise ValueError(f"train_ensemble: seeds must be a non-empty list of non-negative ints; got {seeds!r}.")
    if n_members is not None and n_members != len(seeds):
        raise ValueError(f"train_ensemble: n_members={n_members} but {len(seeds)} seeds were given.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"train_ensemble: seeds must differ (equal seeds train identical members); got {seeds}.")
    return [int(s) for s in seeds]


def _check_finished(finished, seeds) -> dict:
    """``{seed: {"seed", "state", "history"}}`` of the members given as already trained, checked."""
    done = {}
    for seed, result in (finished or {}).items():
        if seed not in seeds:
            raise ValueError(f"train_ensemble: finished holds seed {seed!r}, which is not one of the seeds {seeds}.")
        if not isinstance(result, dict) or "state" not in result:
            raise TypeError(f"train_ensemble: finished[{seed}] must be a dict with the member's 'state' (and "
                            f"'history'); got {type(result).__name__}.")
        done[seed] = {"seed": seed, "state": result["state"], "history": result.get("history")}
    return done


def _finishing(pool, jobs, submitted: list):
    """``(job, future)`` as the members finish; each future is also appended to ``submitted``.

    A :class:`SerialExecutor` runs a job when it is submitted, so its jobs are submitted one at a
    time (a member is handed on before the next starts); other executors get every job at once and
    their futures come back as they finish (``as_completed``; in the order given for futures that
    are not ``concurrent.futures`` ones).
    """
    from concurrent.futures import as_completed

    if isinstance(pool, SerialExecutor):
        for job in jobs:
            submitted.append(pool.submit(_train_member, job))
            yield job, submitted[-1]
        return
    futures = {}
    for job in jobs:
        submitted.append(pool.submit(_train_member, job))
        futures[submitted[-1]] = job
    for future in as_completed(futures) if all(isinstance(f, Future) for f in futures) else futures:
        yield futures[future], future


def _run_jobs(jobs, executor, max_workers, on_member=None) -> list:
    """Each member's result, in the jobs' order; ``on_member`` sees each as it finishes. The first failure
    cancels the rest and names its seed."""
    if not jobs:
        return []
    pool, owned = resolve_executor(executor, len(jobs), max_workers)
    results, submitted = {}, []
    try:
        for job, future in _finishing(pool, jobs, submitted):
            seed = job["seed"]
            try:
                results[seed] = future.result()
            except Exception as e:
                for f in submitted:
                    f.cancel()
                raise RuntimeError(f"train_ensemble: the member with seed {seed} failed: "
                                   f"{type(e).__name__}: {e}") from e
            if on_member is not None:
                on_member(results[seed])
    finally:
        if owned:
            pool.shutdown(wait=True, cancel_futures=True)
    return [results[job["seed"]] for job in jobs]
