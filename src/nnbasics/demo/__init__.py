"""Small runnable demonstrations, each one module, reachable from ``python -m nnbasics``.

* :mod:`nnbasics.demo.xor` — a 2-8-1 network learns XOR from scratch (the default command).

Importing this package does nothing; the demos run only when called.
"""

__all__ = ["xor"]
