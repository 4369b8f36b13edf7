"""Every speed technique of nnbasics, each registered as the fast implementation of a reference.

The reference ops (:mod:`nnbasics.ops`) say what is computed; the modules here say how to
compute it fast on a CPU with NumPy, and may be as ugly as that takes:

* :mod:`~nnbasics.kernels.workspace`: a pool of big arrays reused once nobody holds them
  (no page faults on fresh memory every step), on :mod:`~nnbasics.kernels.refcount`;
* :mod:`~nnbasics.kernels.parallel`: big elementwise passes and blocked GEMM loops split
  across threads (the count: :mod:`nnbasics.threads`); fixed pieces whose result does not
  depend on the thread count, run on one thread or all, whichever
  :mod:`~nnbasics.kernels.adaptive` measures faster on the running job (under load, one);
* :mod:`~nnbasics.kernels.fastblas`: matrix products on the widest vector kernels the CPU has
  (a private AVX-512 copy of NumPy's own OpenBLAS where NumPy's runs older kernels), and
  :mod:`~nnbasics.kernels.gemm`: big products in fixed row pieces on several threads;
* :mod:`~nnbasics.kernels.engine`: the backward walk without needless gradient copies;
* :mod:`~nnbasics.kernels.elementwise`: ReLU and Mul on big float arrays;
* :mod:`~nnbasics.kernels.linalg`: matrix-product gradients in their operands' layout;
* :mod:`~nnbasics.kernels.conv`: blocked im2col + GEMM, channels-last, threaded;
  :mod:`~nnbasics.kernels.conv_winograd`: wide 3x3 / stride-1 layers by Winograd's F(2x2, 3x3)
  (2.25x fewer multiply-adds; :mod:`~nnbasics.kernels.winograd_loops`: its tile transforms as
  compiled loops, where the optional compiled kernels are on);
* :mod:`~nnbasics.kernels.pool`: pooling by kernel offsets, the 2x2 max-pool tournament, its
  backward fused with a preceding ReLU's (:mod:`~nnbasics.kernels.fusion`: which kernel made an array);
  :mod:`~nnbasics.kernels.pool_compiled`: the 2x2 max-pool as compiled loops, where the optional
  compiled kernels are on (:mod:`nnbasics.compiled`, Numba);
* :mod:`~nnbasics.kernels.norm`: batch and layer norm in fewer passes;
* :mod:`~nnbasics.kernels.recurrent`: one input GEMM per sequence, fused gate passes, the
  LSTM's recurrence in row pieces of the batch (one hand-off per sequence, not per step);
* :mod:`~nnbasics.kernels.movement`, :mod:`~nnbasics.kernels.embedding`,
  :mod:`~nnbasics.kernels.dropout`: indexing and embedding gradients, the dropout mask.

Each kernel is registered with :func:`nnbasics.dispatch.register` for the reference it
implements, under the conditions it handles; importing this package registers them all
(``import nnbasics`` does). Nothing outside this package imports it; reference mode
(``NNBASICS_REFERENCE=1``, :func:`nnbasics.reference_mode`) switches every kernel off.

Kernels of one reference are tried in registration order (the order of the imports below): a
kernel for narrower conditions (a compiled one, say) goes before the general one it refines.
Each must give its reference's values and gradients; tests/kernels runs every one both ways.
"""

# importing registers the kernels
from . import (  # noqa: F401
    conv,
    conv_winograd,
    dropout,
    elementwise,
    embedding,
    engine,
    linalg,
    movement,
    norm,
    pool,
    pool_compiled,
    recurrent,
)
