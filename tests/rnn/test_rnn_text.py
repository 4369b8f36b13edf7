"""Text for character models: vocabulary, loading errors, splits, batchify, BPTT windows, windows dataset."""

import json

import numpy as np
import pytest

from nnbasics.data import DataLoader, TensorDataset
from nnbasics.data.text import CharSequenceDataset, CharVocab, batchify, bptt_chunks, load_text, train_val_split


# ------------------------------------------------------------------ CharVocab
def test_vocab_sorted_roundtrip_and_json():
    text = "hello, wörld\n"
    v = CharVocab.from_text(text)
    assert v.chars == "".join(sorted(set(text)))
    ids = v.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert v.decode(ids) == text
    assert v.decode(list(ids)) == text
    back = CharVocab.from_dict(json.loads(json.dumps(v.to_dict())))
    assert back == v and back.encode(text).tolist() == ids.tolist()
    assert len(v) == len(set(text)) and "ö" in v and "z" not in v


def test_vocab_ids_follow_given_order():
    v = CharVocab("hielo")
    assert v.encode("hihello").tolist() == [0, 1, 0, 2, 3, 3, 4]


def test_vocab_errors_name_the_problem():
    v = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['x', 'z'\]"):
        v.encode("abxz")
    with pytest.raises(ValueError, match=r"id 3 is outside \[0, 3\)"):
        v.decode([0, 3])
    with pytest.raises(ValueError, match="1-D"):
        v.decode([[0, 1]])
    with pytest.raises(ValueError, match="unique"):
        CharVocab("aba")
    with pytest.raises(ValueError, match="one character"):
        CharVocab(["ab", "c"])
    with pytest.raises(ValueError, match="empty"):
        CharVocab.from_text("")
    with pytest.raises(TypeError, match="str"):
        v.encode([0, 1])


# ------------------------------------------------------------------ load_text
def test_load_text_reads_utf8(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("Größe\nline 2\n".encode())
    assert load_text(p) == "Größe\nline 2\n"
    assert load_text(str(p)) == "Größe\nline 2\n"


def test_load_text_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file.*missing.txt"):
        load_text(tmp_path / "missing.txt")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"abc " + "é".encode("latin-1"))
    with pytest.raises(ValueError, match=r"not valid utf-8.*offset 4.*encoding="):
        load_text(bad)
    assert load_text(bad, encoding="latin-1") == "abc é"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_text(empty)
    with pytest.raises(IsADirectoryError, match="directory"):
        load_text(tmp_path)


# ------------------------------------------------------------------ splits and streams
def test_train_val_split_keeps_order():
    ids = np.arange(100)
    tr, va = train_val_split(ids, 0.1)
    assert tr.tolist() == list(range(90)) and va.tolist() == list(range(90, 100))
    tr, va = train_val_split("abcdefghij", 0.0)
    assert tr == "abcdefghij" and va == ""
    for bad in (1.0, -0.1, "0.1", True):
        with pytest.raises(ValueError, match="val_fraction"):
            train_val_split(ids, bad)
    with pytest.raises(ValueError, match="at least 2"):
        train_val_split(np.arange(5), 0.1)


def test_batchify_rows_are_contiguous_pieces():
    s = batchify(np.arange(23), 4)
    assert s.shape == (4, 5)
    np.testing.assert_array_equal(s, np.arange(20).reshape(4, 5))
    with pytest.raises(ValueError, match="smaller batch_size"):
        batchify(np.arange(7), 4)
    with pytest.raises(ValueError, match="integer ids"):
        batchify(np.zeros(10), 2)
    with pytest.raises(ValueError, match="batch_size"):
        batchify(np.arange(10), 0)


def test_bptt_chunks_cover_the_stream_with_shifted_targets():
    s = batchify(np.arange(3 * 11), 3)  # (3, 11)
    xs, ys = zip(*bptt_chunks(s, 4))
    assert [x.shape[1] for x in xs] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(xs, 1), s[:, :-1])
    np.testing.assert_array_equal(np.concatenate(ys, 1), s[:, 1:])
    xs2, ys2 = zip(*bptt_chunks(s, 4, start=3))
    np.testing.assert_array_equal(np.concatenate(xs2, 1), s[:, 3:-1])
    np.testing.assert_array_equal(np.concatenate(ys2, 1), s[:, 4:])
    with pytest.raises(ValueError, match="start"):
        next(bptt_chunks(s, 4, start=10))


def test_char_sequence_dataset_windows():
    text = "the quick brown fox jumps"
    ds = CharSequenceDataset(text, seq_len=5, stride=3)
    assert len(ds) == (len(text) - 6) // 3 + 1
    for i in range(len(ds)):
        x, y = ds[i]
        assert ds.vocab.decode(x) == text[3 * i:3 * i + 5]
        assert ds.vocab.decode(y) == text[3 * i + 1:3 * i + 6]
    X, Y = ds.arrays()
    assert X.shape == Y.shape == (len(ds), 5) and X.dtype == np.int64
    np.testing.assert_array_equal(ds[-1][0], X[-1])
    np.testing.assert_array_equal(ds[1:3][1], Y[1:3])
    with pytest.raises(IndexError, match="out of range"):
        ds[len(ds)]
    with pytest.raises(ValueError, match="needs 6"):
        CharSequenceDataset("abcde", seq_len=5)
    batches = list(DataLoader(TensorDataset(X, Y), batch_size=2, shuffle=True, rng=0))
    assert sum(b[0].shape[0] for b in batches) == len(ds)
    assert batches[0][0].dtype == np.int64
    direct = list(DataLoader(ds, batch_size=3, shuffle=False))  # the dataset itself, indexed by batches
    np.testing.assert_array_equal(np.concatenate([b[1]._array for b in direct]), Y)
