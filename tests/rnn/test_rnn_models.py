"""Recurrent zoo models (char LMs, many-to-one classifier), sampling, and the nn.rnn_utils helpers."""

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
from nnbasics.data.text import CharVocab
from nnbasics.models import available_models, build_model
from nnbasics.models.rnn import CharRNN, SequenceClassifier, sample
from nnbasics.nn.rnn_utils import detach_state, last_step, lengths_to_mask, mask_targets, masked_mean, pad_sequence


# ------------------------------------------------------------------ char LMs
@pytest.mark.parametrize("name, state_kind", [("char-lstm", "hc"), ("char-gru", "h"), ("char-rnn", "h")])
def test_char_models_by_name(name, state_kind):
    assert name in available_models()
    m = build_model(name, vocab_size=7, embedding_dim=3, hidden_size=5, num_layers=2, dropout=0.2, rng=0)
    assert m.spec["model"] == name and m.spec["vocab_size"] == 7 and m.spec["num_layers"] == 2
    x = nb.tensor(np.array([[0, 1, 2, 6], [3, 4, 5, 6]]))  # (N=2, T=4)
    logits, state = m(x)
    assert logits.shape == (2, 4, 7)
    hs = state if state_kind == "hc" else (state,)
    assert all(h.shape == (2, 2, 5) for h in hs)
    # rebuilt from its spec, the same weights give the same output
    twin = build_model(m.spec, rng=1)
    twin.load_state_dict(m.state_dict())
    m.eval()
    twin.eval()
    np.testing.assert_array_equal(twin(x)[0]._array, m(x)[0]._array)


def test_char_lstm_contract():
    x = nb.tensor(np.array([[0, 1, 2], [4, 3, 0]]))
    check_module(lambda rng: CharRNN(5, embedding_dim=3, hidden_size=4, rng=rng), x,
                 expected_shape=((2, 3, 5), ((1, 2, 4), (1, 2, 4))),
                 param_names=["embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                              "rnn.bias_hh_l0", "decoder.weight", "decoder.bias"],
                 bad_inputs=[(nb.randn(2, 3, rng=0), "integer character ids"),
                             (nb.tensor(np.array([0, 1])), r"\(N, T\)")])


def test_char_model_state_carries():
    """Running a sequence in two pieces with the state carried equals running it whole."""
    m = CharRNN(6, embedding_dim=3, hidden_size=5, num_layers=2, rng=0)
    x = nb.tensor(np.array([[0, 1, 2, 3, 4, 5, 1], [5, 4, 3, 2, 1, 0, 2]]))
    whole, _ = m(x)
    a, st = m(x[:, :3])
    b, _ = m(x[:, 3:], st)
    np.testing.assert_allclose(np.concatenate([a._array, b._array], 1), whole._array, rtol=1e-5, atol=1e-6)


def test_char_model_bad_arguments():
    with pytest.raises(ValueError, match="cell must be one of"):
        CharRNN(5, cell="transformer")
    with pytest.raises(ValueError, match="dropout"):
        CharRNN(5, dropout=1.0)
    with pytest.raises(ValueError, match="vocab_size"):
        CharRNN(0)


# ------------------------------------------------------------------ sampling
def _lm(seed=0):
    return CharRNN(4, embedding_dim=3, hidden_size=6, rng=seed), CharVocab("abcd")


def test_sample_is_deterministic_per_seed_and_restores_mode():
    m, v = _lm()
    m.train()
    a = sample(m, v, "ab", 40, temperature=1.0, rng=3)
    assert m.training
    assert a == sample(m, v, "ab", 40, temperature=1.0, rng=3)
    assert a != sample(m, v, "ab", 40, temperature=1.0, rng=4)
    assert a.startswith("ab") and len(a) == 42 and set(a) <= set("abcd")
    assert sample(m, v, "ab", 0, rng=0) == "ab"


def _greedy(m, v, prime, n):
    ids = list(v.encode(prime))
    with nb.no_grad():
        for _ in range(n):  # recompute from scratch each time: an independent oracle
            logits, _ = m(nb.tensor(np.array([ids])))
            ids.append(int(logits._array[0, -1].argmax()))
    return v.decode(np.array(ids))


def test_temperature_zero_is_greedy_and_small_temperature_tends_to_it():
    m, v = _lm(1)
    greedy = _greedy(m, v, "abc", 15)
    assert sample(m, v, "abc", 15, temperature=0, rng=0) == greedy
    assert sample(m, v, "abc", 15, temperature=1e-4, rng=5) == greedy


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_sampled_frequencies_follow_softmax_of_logits_over_temperature(temperature):
    """With the decoder reduced to a bias b, every step draws from softmax(b / T): compare the counts."""
    m, v = _lm(2)
    b = np.array([1.5, 0.5, 0.0, -1.0], dtype=np.float32)
    with nb.no_grad():
        m.decoder.weight._array[...] = 0
        m.decoder.bias._array[...] = b
    n = 800
    text = sample(m, v, "a", n, temperature=temperature, rng=0)[1:]
    freq = np.bincount(v.encode(text), minlength=4) / n
    p = np.exp(b / temperature) / np.exp(b / temperature).sum()
    np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p * (1 - p) / n).max())


def test_sample_rejects_bad_arguments():
    m, v = _lm()
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        sample(m, v, "a", 5, temperature=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        sample(m, v, "a", 5, temperature=float("inf"))
    with pytest.raises(ValueError, match="prime must be a non-empty"):
        sample(m, v, "", 5)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        sample(m, v, "az", 5)
    with pytest.raises(ValueError, match="length"):
        sample(m, v, "a", -1)
    with pytest.raises(ValueError, match="top_k"):
        sample(m, v, "a", 5, top_k=0)


def test_top_k_one_is_greedy():
    m, v = _lm(3)
    assert sample(m, v, "dc", 10, temperature=2.0, top_k=1, rng=0) == _greedy(m, v, "dc", 10)


# ------------------------------------------------------------------ many-to-one with padding
def _batch(seqs, pad=0):
    t = max(len(s) for s in seqs)
    return np.array([list(s) + [pad] * (t - len(s)) for s in seqs]), np.array([len(s) for s in seqs])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_classifier_padding_does_not_change_the_result(cell, pooling):
    m = SequenceClassifier(3, vocab_size=9, embedding_dim=4, hidden_size=5, num_layers=2, cell=cell,
                           pooling=pooling, rng=0)
    seqs = [[1, 2, 3, 4, 5], [6, 7], [8], [2, 2, 2]]
    x, lengths = _batch(seqs, pad=0)
    batched = m(nb.tensor(x), lengths=lengths)._array  # (4, 3)
    alone = np.concatenate([m(nb.tensor(np.array([s])))._array for s in seqs])
    np.testing.assert_allclose(batched, alone, rtol=1e-5, atol=1e-6)
    # a different padding value gives the same logits
    x9, _ = _batch(seqs, pad=7)
    np.testing.assert_allclose(m(nb.tensor(x9), lengths=lengths)._array, batched, rtol=1e-5, atol=1e-6)


def test_classifier_float_inputs_padding_gets_no_gradient():
    m = SequenceClassifier(2, input_size=3, hidden_size=4, rng=0)
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (4, 2, 3)]
    x = pad_sequence([nb.tensor(s) for s in seqs], batch_first=True, padding_value=5.0)
    x.requires_grad_()
    lengths = [4, 2, 3]
    out = m(x, lengths=lengths)
    alone = np.concatenate([m(nb.tensor(s[None]))._array for s in seqs])
    np.testing.assert_allclose(out._array, alone, rtol=1e-5, atol=1e-6)
    (out * nb.tensor(rng.standard_normal(out.shape).astype(np.float32))).sum().backward()
    mask = lengths_to_mask(lengths, max_len=4)._array
    assert np.all(x.grad._array[~mask] == 0) and np.all(np.abs(x.grad._array[mask]).sum(-1) > 0)


def test_classifier_learns_a_length_dependent_task():
    """Label = whether token 1 occurs in a variable-length sequence: needs the lengths to be right."""
    rng = np.random.default_rng(0)
    seqs, labels = [], []
    for _ in range(64):
        n = int(rng.integers(2, 9))
        s = rng.integers(2, 6, size=n)
        if rng.random() < 0.5:
            s[rng.integers(0, n)] = 1
        seqs.append(s.tolist())
        labels.append(int(1 in s))
    x, lengths = _batch(seqs)
    m = build_model("sequence-classifier", num_classes=2, vocab_size=6, embedding_dim=8, hidden_size=16, rng=0)
    opt = nb.optim.Adam(m.parameters(), lr=0.03)
    y = nb.tensor(np.array(labels))
    for _ in range(60):
        loss = nb.functional.cross_entropy(m(nb.tensor(x), lengths=lengths), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = (m(nb.tensor(x), lengths=lengths)._array.argmax(1) == np.array(labels)).mean()
    assert acc >= 0.95, acc


def test_classifier_bad_inputs():
    m = SequenceClassifier(2, vocab_size=5, hidden_size=3, rng=0)
    with pytest.raises(ValueError, match="integer token ids"):
        m(nb.randn(2, 3, rng=0))
    with pytest.raises(ValueError, match="2 lengths for a batch of 3"):
        m(nb.tensor(np.zeros((3, 4), dtype=np.int64)), lengths=[1, 2])
    with pytest.raises(ValueError, match="exceeds the 4 time steps"):
        m(nb.tensor(np.zeros((2, 4), dtype=np.int64)), lengths=[5, 2])
    with pytest.raises(ValueError, match=">= 1"):
        m(nb.tensor(np.zeros((2, 4), dtype=np.int64)), lengths=[0, 2])
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        SequenceClassifier(2, vocab_size=5, input_size=3)
    with pytest.raises(ValueError, match="pooling"):
        SequenceClassifier(2, vocab_size=5, pooling="max")
    f = SequenceClassifier(2, input_size=3, hidden_size=3, rng=0)
    with pytest.raises(ValueError, match=r"\(N, T, 3\)"):
        f(nb.randn(2, 4, 5, rng=0))


# ------------------------------------------------------------------ rnn_utils
def test_pad_sequence_matches_torch(torch):
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (2, 5, 3)]
    ws = rng.standard_normal((5, 3, 3)).astype(np.float32)
    for batch_first in (False, True):
        for side in ("right", "left"):
            ours = [nb.tensor(s, requires_grad=True) for s in seqs]
            theirs = [torch.tensor(s, requires_grad=True) for s in seqs]
            a = pad_sequence(ours, batch_first=batch_first, padding_value=-1.5, padding_side=side)
            b = torch.nn.utils.rnn.pad_sequence(theirs, batch_first=batch_first, padding_value=-1.5,
                                                padding_side=side)
            np.testing.assert_allclose(a._array, b.detach().numpy(), atol=1e-6)
            w = ws if not batch_first else ws.transpose(1, 0, 2)
            (a * nb.tensor(w)).sum().backward()
            (b * torch.tensor(w)).sum().backward()
            for o, t in zip(ours, theirs):
                np.testing.assert_allclose(o.grad._array, t.grad.numpy(), atol=1e-6)


def test_pad_sequence_errors():
    with pytest.raises(ValueError, match="trailing shape"):
        pad_sequence([nb.ones(2, 3), nb.ones(2, 4)])
    with pytest.raises(ValueError, match="empty"):
        pad_sequence([])
    with pytest.raises(TypeError, match="list of tensors"):
        pad_sequence(nb.ones(2, 3))


def test_last_step_and_masked_mean_select_valid_steps():
    rng = np.random.default_rng(0)
    out = rng.standard_normal((4, 3, 2))  # (T=4, B=3, H=2)
    lengths = np.array([4, 1, 2])
    t = nb.tensor(out, requires_grad=True)
    last = last_step(t, lengths)
    np.testing.assert_array_equal(last._array, out[lengths - 1, np.arange(3)])
    np.testing.assert_array_equal(last_step(nb.tensor(out.transpose(1, 0, 2)), lengths, batch_first=True)._array,
                                  last._array)
    last.sum().backward()
    expect = np.zeros_like(out)
    expect[lengths - 1, np.arange(3)] = 1
    np.testing.assert_array_equal(t.grad._array, expect)
    mean = masked_mean(nb.tensor(out), lengths)._array
    np.testing.assert_allclose(mean, np.stack([out[:n, b].mean(0) for b, n in enumerate(lengths)]), rtol=1e-12)
    np.testing.assert_array_equal(lengths_to_mask([2, 1], max_len=3)._array, [[True, True, False],
                                                                             [True, False, False]])
    with pytest.raises(ValueError, match="exceeds"):
        last_step(nb.tensor(out), [5, 1, 1])
    with pytest.raises(ValueError, match="1-D sequence of ints"):
        lengths_to_mask([[1, 2]])


def test_detach_state_cuts_every_tensor_and_keeps_structure():
    x = nb.ones(2, 3, requires_grad=True)
    h, c = x * 2, x * 3
    d = detach_state((h, [c, None]))
    assert isinstance(d, tuple) and isinstance(d[1], list) and d[1][1] is None
    for a, b in ((d[0], h), (d[1][0], c)):
        assert not a.requires_grad and a.grad_fn is None
        np.testing.assert_array_equal(a._array, b._array)
    assert detach_state(None) is None
    with pytest.raises(TypeError, match="detach_state"):
        detach_state({"h": h})


# ------------------------------------------------------------------ many-to-many with padding: masking in the loss
class _Tagger(nb.nn.Module):
    """Embedding -> LSTM -> Linear: one class per step (many-to-many), batch first."""

    def __init__(self):
        super().__init__()
        self.emb = nb.nn.Embedding(9, 4, rng=0)
        self.rnn = nb.nn.LSTM(4, 5, batch_first=True, rng=1)
        self.out = nb.nn.Linear(5, 3, rng=2)

    def forward(self, x):
        return self.out(self.rnn(self.emb(x))[0])  # (N, T, C)


def test_masked_per_step_loss_equals_the_loss_over_valid_steps_only():
    """cross_entropy with padded targets set to ignore_index == the mean over the valid steps of each
    sequence run alone; the padded steps get no gradient, whatever the padding's value and label."""
    rng = np.random.default_rng(0)
    lengths = [5, 2, 3, 1]
    xs = [rng.integers(1, 9, n) for n in lengths]
    ys = [rng.integers(0, 3, n) for n in lengths]
    x, _ = _batch(xs, pad=0)
    y, _ = _batch(ys, pad=0)  # padding label 0 is a real class: only the mask keeps it out of the loss
    m = _Tagger()
    logits = m(nb.tensor(x))
    logits.retain_grad()
    target = mask_targets(y, lengths, batch_first=True)
    loss = nb.functional.cross_entropy(logits.reshape(-1, 3), target.reshape(-1))
    loss.backward()
    batched = {n: p.grad._array.copy() for n, p in m.named_parameters()}
    # oracle: every sequence alone, summed losses over the total number of valid steps
    m.zero_grad()
    total = sum(lengths)
    alone = sum(nb.functional.cross_entropy(m(nb.tensor(xi[None]))[0], nb.tensor(yi), reduction="sum")
                for xi, yi in zip(xs, ys)) / total
    alone.backward()
    np.testing.assert_allclose(loss.item(), alone.item(), rtol=1e-5)
    for n, p in m.named_parameters():
        np.testing.assert_allclose(batched[n], p.grad._array, rtol=1e-4, atol=1e-6, err_msg=n)
    mask = lengths_to_mask(lengths)._array
    assert np.all(logits.grad._array[~mask] == 0) and np.all(np.abs(logits.grad._array[mask]).sum(-1) > 0)
    # without the mask the padded steps (label 0) would count: a different loss
    unmasked = nb.functional.cross_entropy(logits.reshape(-1, 3), nb.tensor(y.reshape(-1)))
    assert abs(unmasked.item() - loss.item()) > 1e-3


def test_mask_targets_layouts_and_errors():
    y = np.arange(12).reshape(4, 3) % 5  # (T=4, B=3)
    out = mask_targets(y, [4, 1, 2])._array
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out[:, 0], y[:, 0])
    np.testing.assert_array_equal(out[1:, 1], [-100] * 3)
    np.testing.assert_array_equal(out[:, 2], [y[0, 2], y[1, 2], -100, -100])
    np.testing.assert_array_equal(mask_targets(y.T, [4, 1, 2], batch_first=True, ignore_index=-1)._array.T,
                                  np.where(out == -100, -1, out))
    assert (y == np.arange(12).reshape(4, 3) % 5).all()  # the input is left alone
    with pytest.raises(ValueError, match="integer class ids"):
        mask_targets(np.zeros((4, 3)), [1, 1, 1])
    with pytest.raises(ValueError, match="2 lengths for a batch of 3"):
        mask_targets(y, [1, 2])
    with pytest.raises(ValueError, match="exceeds the 4 time steps"):
        mask_targets(y, [5, 1, 1])


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_sequence_classifier_contract(pooling):
    x, lengths = _batch([[1, 2, 3], [4, 5], [6]], pad=0)
    check_module(lambda rng: SequenceClassifier(3, vocab_size=7, embedding_dim=4, hidden_size=5, pooling=pooling,
                                                rng=rng),
                 (nb.tensor(x), nb.tensor(lengths)), expected_shape=(3, 3),
                 param_names=["embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                              "rnn.bias_hh_l0", "classifier.weight", "classifier.bias"],
                 bad_inputs=[(nb.randn(3, 3, rng=0), r"expected \(N, T\) integer token ids")])
