"""XOR from scratch: a 2-H-1 network on raw tensors, trained by hand-written SGD.

XOR is the classic function that no single linear unit can compute (Minsky and Papert,
1969): the points (0, 1), (1, 0) and (0, 0), (1, 1) are not separable by one line. One
hidden layer is enough::

    h = tanh(x W1^T + b1)        x (4, 2), W1 (H, 2), b1 (H,)   -> h (4, H)
    z = h W2^T + b2              W2 (1, H), b2 (1,)             -> z (4, 1), the logit
    p = sigmoid(z)               the probability that XOR(x) = 1

trained on the binary cross-entropy of the logits, written from primitives in its stable
form (``nnbasics.functional.binary_cross_entropy_with_logits`` is the library's fused op)::

    loss = mean(log(1 + e^z) - y z) = mean(max(z, 0) + log(1 + e^-|z|) - y z)

Everything is explicit: four tensors that require grad, ``loss.backward()``, and the
update ``w <- w - lr * dloss/dw`` under ``no_grad``. No Module, no optimizer.

Run it with ``python -m nnbasics`` (or ``nnbasics xor --steps 2000 --seed 0 --hidden 8``).

Example:
    >>> result = train_xor(steps=2000, seed=0, log=None)
    >>> result.predictions
    [0, 1, 1, 0]
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..autograd import no_grad
from ..backend import xp
from ..rng import as_generator
from ..tensor import Tensor, tensor

__all__ = ["XorResult", "format_predictions", "run", "train_xor"]

#: The four inputs of XOR and their targets.
INPUTS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
TARGETS = [0.0, 1.0, 1.0, 0.0]


@dataclass
class XorResult:
    """What :func:`train_xor` learned.

    Attributes:
        losses: the loss before each step, and after the last one (``steps + 1`` values).
        probabilities: p(XOR(x) = 1) for the four inputs, after training.
        predictions: 1 where the probability exceeds 0.5, else 0.
        params: the trained ``W1, b1, W2, b2`` as arrays.
        seconds: wall time of the training loop.
    """

    losses: list = field(default_factory=list)
    probabilities: list = field(default_factory=list)
    predictions: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def correct(self) -> int:
        """How many of the four predictions equal XOR."""
        return sum(int(p == t) for p, t in zip(self.predictions, TARGETS))


def _uniform(shape, bound, rng) -> Tensor:
    """A leaf tensor of U(-bound, bound) samples (float32) that requires grad."""
    w = rng.uniform(-bound, bound, size=shape).astype(xp.float32)
    return tensor(w, requires_grad=True)


def _init(hidden, rng):
    """Xavier/Glorot-uniform weights (suited to tanh), zero biases.

    bound = sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010).
    """
    w1 = _uniform((hidden, 2), math.sqrt(6.0 / (2 + hidden)), rng)
    w2 = _uniform((1, hidden), math.sqrt(6.0 / (hidden + 1)), rng)
    b1 = tensor(xp.zeros(hidden, dtype=xp.float32), requires_grad=True)
    b2 = tensor(xp.zeros(1, dtype=xp.float32), requires_grad=True)
    return w1, b1, w2, b2


def _forward(x, w1, b1, w2, b2) -> Tensor:
    """Logits z (4, 1) of the 2-H-1 tanh network."""
    h = (x @ w1.T + b1).tanh()  # (4, H)
    return h @ w2.T + b2  # (4, 1)


def _bce_with_logits(z, y) -> Tensor:
    """mean(log(1 + e^z) - y z), stable for any z: max(z, 0) + log(1 + e^-|z|) - y z.

    NOTE: at exactly z = 0 the kinks of max and |.| give the subgradient -y instead of
    1/2 - y; a float logit is never exactly 0 after a random start.
    """
    return (z.relu() + (1.0 + (-z.abs()).exp()).log() - y * z).mean()


def train_xor(steps: int = 2000, seed=0, hidden: int = 8, lr: float = 0.5, log_every: int | None = None,
              log=print) -> XorResult:
    """Train a 2-``hidden``-1 tanh network on XOR with full-batch SGD, from seeded weights.

    Args:
        steps: SGD steps (each on all four examples). At least 1.
        seed: ``rng`` of the initial weights (int seed, Generator, or None for fresh entropy).
        hidden: width H of the hidden layer. At least 1 (XOR needs 2; 8 trains reliably).
        lr: learning rate, > 0.
        log_every: print the loss every this many steps (default: steps // 10, at least 1).
        log: function that prints one line (``print``); None for silence.

    Returns:
        XorResult: the loss history, probabilities, 0/1 predictions and trained weights.

    Raises:
        ValueError: a non-positive ``steps``, ``hidden``, ``lr`` or ``log_every``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, e.g. 2000. Got {steps!r}.")
    if not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden must be a positive int (XOR needs at least 2), e.g. 8. Got {hidden!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, e.g. 0.5. Got {lr!r}.")
    if log_every is None:
        log_every = max(steps // 10, 1)
    if not isinstance(log_every, int) or log_every < 1:
        raise ValueError(f"log_every must be a positive int. Got {log_every!r}.")
    log = log or (lambda line: None)

    rng = as_generator(seed)
    x = tensor(INPUTS)  # (4, 2) float32
    y = tensor([[t] for t in TARGETS])  # (4, 1)
    params = _init(hidden, rng)
    result = XorResult()

    t0 = time.perf_counter()
    for step in range(steps + 1):
        loss = _bce_with_logits(_forward(x, *params), y)
        result.losses.append(loss.item())
        if step % log_every == 0 or step == steps:
            log(f"step {step:>{len(str(steps))}}  loss {result.losses[-1]:.4f}")
        if step == steps:
            break
        loss.backward()
        with no_grad():
            for p in params:
                p._array -= lr * p.grad._array
                p.grad = None
    result.seconds = time.perf_counter() - t0

    with no_grad():
        prob = _forward(x, *params).sigmoid()._array[:, 0]
    result.probabilities = [float(v) for v in prob]
    result.predictions = [int(v > 0.5) for v in prob]
    result.params = dict(zip(("W1", "b1", "W2", "b2"), (p._array.copy() for p in params)))
    return result


def format_predictions(result: XorResult) -> str:
    """The four inputs, their targets, the learned probabilities and predictions as a table."""
    lines = [" x1  x2 | XOR | p(1)   | predicted", "--------+-----+--------+----------"]
    for (a, b), t, p, q in zip(INPUTS, TARGETS, result.probabilities, result.predictions):
        mark = "ok" if q == t else "WRONG"
        lines.append(f" {a:2.0f}  {b:2.0f} | {t:3.0f} | {p:6.4f} | {q:5d}  {mark}")
    lines.append(f"{result.correct}/4 correct")
    return "\n".join(lines)


def run(steps: int = 2000, seed=0, hidden: int = 8, lr: float = 0.5, log_every: int | None = None,
        out=print) -> XorResult:
    """The ``nnbasics xor`` command: train, print the falling loss and the predictions table."""
    out(f"XOR, learned from scratch by a 2-{hidden}-1 network (tanh hidden, sigmoid output),")
    out(f"full-batch SGD, lr {lr}, {steps} steps, seed {seed}")
    out("")
    result = train_xor(steps=steps, seed=seed, hidden=hidden, lr=lr, log_every=log_every, log=out)
    out("")
    out(f"loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f} in {steps} steps ({result.seconds:.2f} s)")
    out("")
    out(format_predictions(result))
    return result
