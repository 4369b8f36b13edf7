"""L-BFGS: a quasi-Newton method for full-batch problems (PyTorch's ``torch.optim.LBFGS``, without line search)."""

from __future__ import annotations

from ..autograd import enable_grad, no_grad
from ..backend import xp
from .optimizer import Optimizer, check_nonneg

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    r"""Limited-memory BFGS (Nocedal & Wright, *Numerical Optimization*, Algorithm 7.4), PyTorch's loop.

    Each :meth:`step` runs up to ``max_iter`` iterations on the closure's loss. The direction
    ``d = -H g`` comes from the two-loop recursion over the last ``history_size`` pairs
    :math:`s_k = x_{k+1} - x_k`, :math:`y_k = g_{k+1} - g_k` (a pair is kept only when
    :math:`y^\top s > 10^{-10}`), with the initial Hessian guess :math:`H_0 = \frac{y^\top s}{y^\top y} I`.
    The step is ``lr`` (the very first one ``min(1, 1/||g||_1) * lr``); no line search.
    Iterations stop early when ``max|g| <= tolerance_grad``, when the directional derivative
    :math:`g^\top d > -\text{tolerance\_change}`, when ``max|t d|`` or the loss change is below
    ``tolerance_change``, or after ``max_eval`` closure calls. All parameters form one vector.

    Args:
        params: the parameters (one group).
        lr: step size.
        max_iter: iterations per ``step``.
        max_eval: closure calls per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad, tolerance_change: stopping thresholds (see above).
        history_size: pairs kept.
        line_search_fn: None only (``"strong_wolfe"`` is not implemented; a ValueError says so).

    Example:
        >>> import nnbasics as nb
        >>> w = nb.nn.Parameter(nb.tensor([3.0, -2.0]))
        >>> opt = LBFGS([w], lr=1.0)
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1.0) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 4) for v in w.tolist()]
        [1.0, 1.0]
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if line_search_fn is not None:
            raise ValueError(f"LBFGS: line_search_fn={line_search_fn!r} is not implemented; use None (a fixed step "
                             "lr, as PyTorch's default).")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {"lr": lr, "max_iter": max_iter, "max_eval": max_eval, "tolerance_grad": tolerance_grad,
                        "tolerance_change": tolerance_change, "history_size": history_size, "line_search_fn": None}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups); pass one list.")
        self._params = self.param_groups[0]["params"]

    def _check_hyperparams(self, group, where):
        for name in ("lr", "tolerance_grad", "tolerance_change"):
            check_nonneg("LBFGS", name, group[name], where)
        for name in ("max_iter", "max_eval", "history_size"):
            if not isinstance(group[name], int) or group[name] < 1:
                raise ValueError(f"LBFGS{where}: {name} must be a positive int. Got {group[name]!r}.")

    def _gather_flat_grad(self):
        parts = [xp.zeros(p._array.size, p._array.dtype) if p.grad is None else p.grad._array.reshape(-1)
                 for p in self._params]
        return xp.concatenate(parts)

    def _add_grad(self, step, direction):
        offset = 0
        for p in self._params:
            n = p._array.size
            p._array += (step * direction[offset:offset + n]).reshape(p._array.shape).astype(p._array.dtype)
            offset += n

    def step(self, closure=None):
        """One L-BFGS optimization (up to ``max_iter`` iterations); ``closure`` must return the loss after backward."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that zeroes the gradients, computes the loss, calls "
                             "backward and returns the loss.")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change, history_size = group["tolerance_grad"], group["tolerance_change"], group["history_size"]
        state = self.state[0][0]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if xp.abs(flat_grad).max() <= tol_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        with no_grad():
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d, old_dirs, old_stps, ro, h_diag = -flat_grad, [], [], [], 1.0
                else:
                    y = flat_grad - prev_flat_grad
                    s = d * t
                    ys = float(y @ s)
                    if ys > 1e-10:
                        if len(old_dirs) == history_size:
                            old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                        old_dirs.append(y), old_stps.append(s), ro.append(1.0 / ys)
                        h_diag = ys / float(y @ y)
                    # two-loop recursion: d = -H g
                    al = [0.0] * len(old_dirs)
                    q = -flat_grad
                    for i in range(len(old_dirs) - 1, -1, -1):
                        al[i] = float(old_stps[i] @ q) * ro[i]
                        q = q - al[i] * old_dirs[i]
                    d = r = q * h_diag
                    for i in range(len(old_dirs)):
                        be_i = float(old_dirs[i] @ r) * ro[i]
                        r = r + (al[i] - be_i) * old_stps[i]
                    d = r
                prev_flat_grad = flat_grad.copy()
                prev_loss = loss
                t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
                gtd = float(flat_grad @ d)
                if gtd > -tol_change:
                    break
                ls_evals = 0
                self._add_grad(t, d)
                if n_iter != max_iter:
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    ls_evals = 1
                current_evals += ls_evals
                state["func_evals"] += ls_evals
                if n_iter == max_iter or current_evals >= max_eval:
                    break
                if xp.abs(flat_grad).max() <= tol_grad:
                    break
                if xp.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change:
                    break
        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
