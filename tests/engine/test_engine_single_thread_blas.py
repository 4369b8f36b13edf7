"""threads.single_thread_blas: BLAS on the calling thread only inside, the old count restored after."""

import numpy as np

from nnbasics import threads


def _current_count(setter):
    before = setter(1)  # returns the count it replaces
    setter(before)
    return before


def test_single_thread_blas_sets_one_and_restores():
    setter = threads.blas_setter()
    if setter is None:  # no per-thread OpenBLAS setting (older OpenBLAS): the manager must be a no-op
        with threads.single_thread_blas():
            assert np.dot(np.ones((3, 2)), np.ones((2, 5))).sum() == 30.0
        return
    outer = setter(2)
    try:
        with threads.single_thread_blas():
            assert _current_count(setter) == 1
            with threads.single_thread_blas():
                assert _current_count(setter) == 1
            assert _current_count(setter) == 1
        assert _current_count(setter) == 2
    finally:
        setter(outer)


def test_single_thread_blas_restores_on_error():
    setter = threads.blas_setter()
    before = _current_count(setter) if setter is not None else None
    try:
        with threads.single_thread_blas():
            raise KeyError("boom")
    except KeyError:
        pass
    if setter is not None:
        assert _current_count(setter) == before
