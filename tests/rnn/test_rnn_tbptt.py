"""Truncated BPTT: the state carries across chunks, the graph is cut between them; train_char_lm end to end."""

import math

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.data.text import CharVocab, batchify
from nnbasics.models.rnn import CharRNN, sample
from nnbasics.nn.rnn_utils import detach_state
from nnbasics.optim import SGD, Adam
from nnbasics.training.tbptt import evaluate_stream, load_char_lm, tbptt_step, train_char_lm

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
    "First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\n"
    "All:\nWe know't, we know't.\n\nFirst Citizen:\nLet us kill him, and we'll have corn at our own price.\n"
    "Is't a verdict?\n\nAll:\nNo more talking on't; let it be done: away, away!\n\n"
) * 5  # about 2 kB


def _grads(model):
    return [None if p.grad is None else p.grad._array.copy() for p in model.parameters()]


def _loss(logits, y):
    return nb.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), nb.tensor(y.reshape(-1)))


def test_state_carries_and_graph_is_cut():
    rng = np.random.default_rng(0)
    m = CharRNN(5, embedding_dim=3, hidden_size=4, rng=0)
    x = rng.integers(0, 5, size=(2, 8))
    y = rng.integers(0, 5, size=(2, 8))
    x1, x2, y1, y2 = x[:, :4], x[:, 4:], y[:, :4], y[:, 4:]
    opt = SGD(m.parameters(), lr=0.0)  # lr 0: parameters stay put, so chunks can be compared

    _, state, _ = tbptt_step(m, x1, y1, None, opt)
    for s in state:
        assert not s.requires_grad and s.grad_fn is None  # graph cut
    # the state carried is the true state after chunk 1 ...
    _, full_state = m(nb.tensor(x1))
    for a, b in zip(state, full_state):
        np.testing.assert_array_equal(a._array, b._array)
    # ... and chunk 2's gradients are those of chunk 2 alone from that (constant) state
    tbptt_step(m, x2, y2, state, opt)
    g_tbptt = _grads(m)
    m.zero_grad()
    out, _ = m(nb.tensor(x2), tuple(nb.tensor(s._array.copy()) for s in state))
    _loss(out, y2).backward()
    for a, b in zip(g_tbptt, _grads(m)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # whereas full BPTT through both chunks would have reached chunk 1 (so the cut is real)
    m.zero_grad()
    _out1, st = m(nb.tensor(x1))
    out2, _ = m(nb.tensor(x2), st)
    _loss(out2, y2).backward()
    assert max(np.abs(a - b).max() for a, b in zip(g_tbptt, _grads(m))) > 1e-6


def test_tbptt_step_clips_the_global_norm():
    m = CharRNN(5, embedding_dim=3, hidden_size=4, rng=0)
    x = np.random.default_rng(1).integers(0, 5, size=(3, 6))
    opt = SGD(m.parameters(), lr=0.0)
    loss, _, norm = tbptt_step(m, x[:, :-1], x[:, 1:], None, opt, clip=1e-3)
    assert norm > 1e-3 and math.isfinite(loss)
    total = math.sqrt(sum(float((p.grad._array.astype(np.float64) ** 2).sum()) for p in m.parameters()))
    np.testing.assert_allclose(total, 1e-3, rtol=1e-4)


def test_carried_state_beats_reset_state_on_a_long_range_stream():
    """A text whose next character depends on more than seq_len characters of context.

    Period 12 of distinct-ish characters; windows of 3. With the state carried the trained
    model knows where in the period it is; with the state reset every window the first
    characters of each window are ambiguous, so the loss is higher.
    """
    period = "abcabdabeabf"  # 'ab' is followed by c, d, e, f in turn: needs > 3 characters of context
    text = period * 60
    run = train_char_lm(text, model={"model": "char-lstm", "embedding_dim": 8, "hidden_size": 24}, seq_len=6,
                        batch_size=4, steps=150, lr=2e-2, val_fraction=0.2, eval_every=1000, rng=0)
    vocab, model = run.vocab, run.model
    streams = batchify(vocab.encode(text[-240:]), 4)
    carried = evaluate_stream(model, streams, seq_len=3)
    reset = np.mean([evaluate_stream(model, streams[:, i:i + 4], seq_len=3) for i in range(0, streams.shape[1] - 3, 3)])
    assert carried < 0.2 and reset > carried + 0.3, (carried, reset)


def test_train_char_lm_reduces_validation_loss_and_is_deterministic():
    kw = {"model": {"model": "char-gru", "embedding_dim": 8, "hidden_size": 32}, "seq_len": 16, "batch_size": 8,
              "steps": 50, "eval_every": 25, "lr": 1e-2, "rng": 3}
    run = train_char_lm(TEXT, **kw)
    h = run.history
    assert h["step"] == [0, 25, 50] and run.stopped_by == "steps" and run.steps == 50
    assert math.isnan(h["train_loss"][0]) and h["train_loss"][-1] < h["train_loss"][1]
    v = len(run.vocab)
    assert abs(h["val_loss"][0] - math.log(v)) < 0.3  # an untrained model is near uniform
    assert h["val_loss"][-1] < h["val_loss"][0] - 0.8
    np.testing.assert_allclose(h["val_perplexity"], np.exp(h["val_loss"]), rtol=1e-6)
    again = train_char_lm(TEXT, **kw)
    assert again.history["val_loss"] == h["val_loss"] and again.history["train_loss"][1:] == h["train_loss"][1:]


def test_train_char_lm_from_path_epochs_and_time_budget(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text(TEXT[:600], encoding="utf-8")
    run = train_char_lm(path=p, model={"model": "char-rnn", "hidden_size": 16}, seq_len=10, batch_size=4, epochs=2,
                        rng=0)
    assert run.stopped_by == "epochs" and run.history["epoch"][-1] == 2
    quick = train_char_lm(TEXT, model={"model": "char-lstm", "hidden_size": 8, "embedding_dim": 4}, seq_len=8,
                          batch_size=4, time_budget_s=1e-9, rng=0)
    assert quick.stopped_by == "time_budget" and quick.steps == 1


def test_train_char_lm_checkpoints_round_trip(tmp_path):
    run = train_char_lm(TEXT, model={"model": "char-lstm", "embedding_dim": 4, "hidden_size": 8, "dropout": 0.1,
                                     "num_layers": 2},
                        seq_len=8, batch_size=4, steps=6, eval_every=3, rng=0, checkpoint_dir=tmp_path / "ck")
    names = sorted(p.split("/")[-1] for p in run.checkpoints)
    assert names == ["best.safetensors", "last.safetensors"]
    model, vocab, ckpt = load_char_lm(tmp_path / "ck" / "last.safetensors")
    assert vocab == run.vocab and ckpt.extra["step"] == 6
    assert ckpt.extra["history"]["val_loss"] == run.history["val_loss"]
    for (k, a), (_, b) in zip(model.state_dict().items(), run.model.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=k)
    assert sample(model, vocab, "All:", 30, temperature=0.8, rng=1) == sample(run.model, vocab, "All:", 30,
                                                                               temperature=0.8, rng=1)


def test_train_char_lm_rejects_bad_arguments():
    with pytest.raises(ValueError, match="exactly one of text= .* or path="):
        train_char_lm(steps=1)
    with pytest.raises(ValueError, match="stopping rule"):
        train_char_lm(TEXT)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        train_char_lm(TEXT, steps=0)
    with pytest.raises(ValueError, match="vocab_size=3 differs"):
        train_char_lm(TEXT, model={"model": "char-lstm", "vocab_size": 3}, steps=1)
    with pytest.raises(ValueError, match="needs its vocab="):
        train_char_lm(TEXT, model=CharRNN(5, 3, 4), steps=1)
    with pytest.raises(ValueError, match="smaller batch_size"):
        train_char_lm("abcdefghijkl", batch_size=32, steps=1, val_fraction=0.0)
    with pytest.raises(FileNotFoundError, match="no such file"):
        train_char_lm(path="/nonexistent/input.txt", steps=1)


def test_detached_state_feeds_a_model_with_fresh_graph():
    """After detach_state, backward through the next chunk never touches the previous one's graph."""
    m = CharRNN(4, embedding_dim=2, hidden_size=3, rng=0)
    opt = Adam(m.parameters(), lr=1e-2)
    v = CharVocab("abcd")
    streams = batchify(v.encode("abcdabcdbadcabcdabcdabcd" * 3), 2)
    state = None
    for i in range(0, streams.shape[1] - 1, 5):
        x, y = streams[:, i:i + 5], streams[:, i + 1:i + 6]
        x = x[:, : y.shape[1]]
        _, state, _ = tbptt_step(m, x, y, state, opt, clip=1.0)
        assert detach_state(state)[0].grad_fn is None and state[0].grad_fn is None


def _same_weights(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.state_dict().values(),
                                                                            b.state_dict().values()))


def test_resumed_run_continues_exactly(tmp_path):
    """Stop mid-epoch at step 10, resume to step 25 (across an epoch boundary, with dropout drawing from rng):
    the same weights and validation losses as one uninterrupted run -- the carried state, the epoch's offset,
    the windows done, Adam's moments and the random streams all came back."""
    text = TEXT[:600]  # 17 windows per epoch
    kw = {"model": {"model": "char-lstm", "embedding_dim": 4, "hidden_size": 8, "num_layers": 2, "dropout": 0.2},
          "seq_len": 8, "batch_size": 4, "eval_every": 4, "rng": 0}
    whole = train_char_lm(text, steps=25, **kw)
    first = train_char_lm(text, steps=10, checkpoint_dir=tmp_path, **kw)
    assert first.stopped_by == "steps" and first.history["epoch"][-1] == 1
    resumed = train_char_lm(text, steps=25, resume=tmp_path / "last.safetensors", **kw)
    assert resumed.steps == 25 and resumed.history["epoch"][-1] == 2 == whole.history["epoch"][-1]
    assert resumed.history["step"] == [0, 4, 8, 10, 12, 16, 20, 24, 25]  # the history goes on from the checkpoint
    assert _same_weights(resumed.model, whole.model)
    shared = {s: v for s, v in zip(whole.history["step"], whole.history["val_loss"])}
    for s, v in zip(resumed.history["step"], resumed.history["val_loss"]):
        if s in shared:
            assert v == shared[s], s
    # the optimizer continued too: Adam's step count is the run's
    assert max(st["step"] for st in resumed.optimizer.state_dict()["state"].values()) == 25


def test_resume_at_an_epoch_boundary_and_when_already_done(tmp_path):
    text = TEXT[:600]
    kw = {"model": {"model": "char-gru", "hidden_size": 8}, "seq_len": 8, "batch_size": 4, "rng": 1}
    whole = train_char_lm(text, epochs=2, **kw)
    first = train_char_lm(text, epochs=1, checkpoint_dir=tmp_path, **kw)
    assert first.stopped_by == "epochs" and 0 < first.steps < whole.steps
    resumed = train_char_lm(text, epochs=2, resume=tmp_path / "last.safetensors", **kw)
    assert resumed.steps == whole.steps and _same_weights(resumed.model, whole.model)
    done = train_char_lm(text, steps=5, resume=tmp_path / "last.safetensors", **kw)  # already past step 5
    assert done.steps == first.steps and done.stopped_by == "steps"


def test_resume_refuses_another_text_or_layout(tmp_path):
    text = TEXT[:600]
    kw = {"model": {"model": "char-rnn", "hidden_size": 8}, "batch_size": 4, "rng": 0}
    train_char_lm(text, steps=2, seq_len=8, checkpoint_dir=tmp_path, **kw)
    ck = tmp_path / "last.safetensors"
    with pytest.raises(ValueError, match="the text differs"):
        train_char_lm(text[:-1] + "?", steps=4, seq_len=8, resume=ck, **kw)
    with pytest.raises(ValueError, match=r"seq_len=8 \(given 9\)"):
        train_char_lm(text, steps=4, seq_len=9, resume=ck, **kw)
    with pytest.raises(ValueError, match="size mismatch|shape"):
        train_char_lm(text, steps=4, seq_len=8, resume=ck, model={"model": "char-rnn", "hidden_size": 9},
                      batch_size=4, rng=0)


@pytest.mark.parametrize("progress", [False, None])
def test_train_char_lm_takes_progress_false_as_fit_does(progress, capsys):
    """Issue 15 item 10: train_char_lm(progress=False) was refused while fit(progress=False) is quiet."""
    run = train_char_lm("abcab " * 20, model={"model": "char-gru", "hidden_size": 4}, seq_len=5, batch_size=2,
                        steps=2, eval_every=1, rng=0, progress=progress)
    assert run.steps == 2 and capsys.readouterr().out == ""


def test_train_char_lm_refuses_an_unknown_progress_value():
    with pytest.raises(TypeError, match="progress must be None, False, True or a callable"):
        train_char_lm("abcab " * 20, steps=1, progress="loud")
