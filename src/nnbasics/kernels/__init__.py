"""Every speed technique of nnbasics, each registered as the fast implementation of a reference.

The reference ops (:mod:`nnbasics.ops`) say what is computed; the modules here say how to
compute it fast on a CPU with NumPy, and may be as ugly as that takes:

* :mod:`~nnbasics.kernels.workspace`: a pool of big arrays reused once nobody holds them
  (no page faults on fresh memory every step), on :mod:`~nnbasics.kernels.refcount`;
* :mod:`~nnbasics.kernels.parallel`: big elementwise passes and blocked GEMM loops split
  across threads (the count: :mod:`nnbasics.threads`);
* :mod:`~nnbasics.kernels.engine`: the backward walk without needless gradient copies;
* :mod:`~nnbasics.kernels.elementwise`: ReLU and Mul on big float arrays.

Each kernel is registered with :func:`nnbasics.dispatch.register` for the reference it
implements, under the conditions it handles; importing this package registers them all
(``import nnbasics`` does). Nothing outside this package imports it; reference mode
(``NNBASICS_REFERENCE=1``, :func:`nnbasics.reference_mode`) switches every kernel off.
"""

# importing registers the kernels
from . import (  # noqa: F401
    conv,
    dropout,
    elementwise,
    embedding,
    engine,
    linalg,
    movement,
    norm,
    pool,
    recurrent,
)
