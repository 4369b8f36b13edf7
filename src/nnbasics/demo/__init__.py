"""Small runnable demonstrations, each one module, runnable as ``python -m nnbasics.demo.<name>``.

Each has a ``run(..., rng=0) -> dict`` function that the tests call.

* :mod:`nnbasics.demo.xor` — a 2-8-1 network learns XOR from scratch (``python -m nnbasics``).
* :mod:`nnbasics.demo.hihello` — an LSTM maps "hihell" to "ihello" within 50 Adam steps.
* :mod:`nnbasics.demo.charseq` — a character sequence reproduced exactly.
* :mod:`nnbasics.demo.softmax_baseline` — the model without recurrence stalls at the
  best accuracy the current character alone allows.
* :mod:`nnbasics.demo.lstm_sentence` — a 2-layer LSTM on a longer sentence.
* :mod:`nnbasics.demo.sine` — next-value prediction of sine waves.
* :mod:`nnbasics.demo.grad_through_time` — ‖∂L/∂h_t‖ back through time, tanh RNN vs LSTM.

Importing this package does nothing; the demos run only when called.
"""

__all__ = ["charseq", "grad_through_time", "hihello", "lstm_sentence", "sine", "softmax_baseline", "xor"]
