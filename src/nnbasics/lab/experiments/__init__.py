"""One module per lab experiment; each defines ``NAME``, ``TITLE``, ``CLAIM`` and ``run(ctx) -> Report``.

Modules are imported by :mod:`nnbasics.lab.registry` when their experiment is run, never here.
"""
