"""Truncated BPTT through fit: TruncatedBPTT (windows in order, state carried) is fit's data, carry() its model."""

import numpy as np
import pytest

from nnbasics import as_tensor
from nnbasics.data.text import CharVocab, batchify, bptt_chunks
from nnbasics.models.rnn import CharRNN
from nnbasics.optim import Adam
from nnbasics.training import Callback, ModelCheckpoint, fit
from nnbasics.training.tbptt import TruncatedBPTT, sequence_loss, tbptt_step

TEXT = "the cat sat on the mat; the dog sat on the log. " * 8


def _setup(seed=0, batch=3):
    vocab = CharVocab.from_text(TEXT)
    net = CharRNN(len(vocab), embedding_dim=4, hidden_size=6, cell="lstm", rng=seed)
    return net, batchify(vocab.encode(TEXT), batch), Adam(net.parameters(), lr=0.01)


def _weights(net):
    return [p._array.copy() for p in net.parameters()]


def test_fit_with_truncated_bptt_is_the_hand_written_loop():
    """Same offsets, same carried state, same updates: bit-identical weights and losses."""
    net, streams, opt = _setup()
    windows = TruncatedBPTT(streams, 7, random_offset=True, rng=3)
    losses = []

    class Losses(Callback):
        def on_batch_end(self, batch, logs=None):
            losses.append(logs["batch_loss"])

    fit(windows.carry(net), windows, loss=sequence_loss, metrics=(), epochs=3, optimizer=opt, grad_clip_norm=1.0,
        callbacks=[Losses()], progress=False)

    ref, streams, ref_opt = _setup()
    offsets = np.random.default_rng(3)
    ref_losses = []
    for _ in range(3):
        state, start = None, int(offsets.integers(0, 7))
        for x, y in bptt_chunks(streams, 7, start=start):
            loss, state, _ = tbptt_step(ref, x, y, state, ref_opt, clip=1.0)
            ref_losses.append(loss)
    assert losses == ref_losses and len(losses) > 20
    for a, b in zip(_weights(net), _weights(ref)):
        np.testing.assert_array_equal(a, b)


def test_the_state_is_carried_within_an_epoch_and_reset_between_epochs():
    net, streams, _opt = _setup()
    windows = TruncatedBPTT(streams, 5)
    seen = []
    model = windows.carry(net)
    for epoch in range(2):
        for i, _window in enumerate(windows):
            seen.append((epoch, i, windows.state is None))
            out = model(as_tensor(_window[0]))
            assert windows.state is not None and all(not s.requires_grad for s in windows.state)
            assert out.shape[:2] == _window[0].shape
    # None only at the first window of each epoch
    assert [s for s in seen if s[2]] == [(0, 0, True), (1, 0, True)]


def test_an_interrupted_epoch_continues_where_it_stopped():
    _net, streams, _opt = _setup()
    windows = TruncatedBPTT(streams, 5, random_offset=True, rng=1)
    whole = [x.copy() for x, _ in windows]
    state = ("a carried state",)
    assert windows.continue_epoch(windows.start, 4, state)
    rest = list(windows)
    assert len(rest) == len(whole) - 4 and all(np.array_equal(a, b) for (a, _), b in zip(rest, whole[4:]))
    assert not windows.continue_epoch(windows.start, windows.windows(windows.start), state)  # nothing left


def test_fit_checkpoints_resume_a_tbptt_run_exactly(tmp_path):
    """The offsets' Generator is the loader's stream of fit's checkpoints, so a resumed run is the same run."""
    net, streams, opt = _setup(seed=1)
    windows = TruncatedBPTT(streams, 6, random_offset=True, rng=5)
    fit(windows.carry(net), windows, loss=sequence_loss, metrics=(), epochs=4, optimizer=opt, progress=False)

    net2, streams, opt2 = _setup(seed=1)
    w2 = TruncatedBPTT(streams, 6, random_offset=True, rng=5)
    fit(w2.carry(net2), w2, loss=sequence_loss, metrics=(), epochs=2, optimizer=opt2, progress=False,
        callbacks=[ModelCheckpoint(tmp_path, monitor="loss")])
    net3, streams, opt3 = _setup(seed=2)  # other weights: all of them come from the checkpoint
    w3 = TruncatedBPTT(streams, 6, random_offset=True, rng=99)
    fit(w3.carry(net3), w3, loss=sequence_loss, metrics=(), epochs=4, optimizer=opt3, progress=False,
        resume=tmp_path / "last.safetensors")
    for a, b in zip(_weights(net), _weights(net3)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("streams, seq_len, message", [
    (np.zeros((2, 1), dtype=np.int64), 3, "T >= 2"),
    (np.zeros((2, 5)), 3, "integer ids"),
    (np.zeros(5, dtype=np.int64), 3, r"\(batch, T\)"),
    (np.zeros((2, 5), dtype=np.int64), 0, "seq_len of TruncatedBPTT must be an int >= 1"),
    (np.zeros((2, 5), dtype=np.int64), True, "seq_len"),
])
def test_bad_arguments_are_refused_by_name(streams, seq_len, message):
    with pytest.raises(ValueError, match=message):
        TruncatedBPTT(streams, seq_len)
