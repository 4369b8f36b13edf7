"""Fuzzing the text-dataset readers (nnbasics.data.text): load_text, CharVocab.from_dict, CharSequenceDataset.

Property: a str / vocabulary / dataset, or the library's own DatasetError/ValueError/TypeError
naming the function; never a raw UnicodeDecodeError, LookupError or NumPy exception.
"""

import numpy as np
import pytest
from fuzz_support import fuzz_settings, mutated, no_hang
from hypothesis import given
from hypothesis import strategies as st

from nnbasics.data import DatasetError
from nnbasics.data.text import CharSequenceDataset, CharVocab, load_text

_SEED = "First Citizen:\nBefore we proceed any further, hear me speak.\n\u00e9\u4e2d\U0001F600".encode()


@fuzz_settings(150)
@given(mutated(_SEED), st.sampled_from(["utf-8", "latin-1", "ascii", "utf-16", "nope"]), st.integers(1, 12))
def test_fuzz_load_text_and_dataset(tmp_path_factory, blob, encoding, seq_len):
    path = tmp_path_factory.mktemp("t") / "t.txt"
    path.write_bytes(blob)
    with no_hang():
        try:
            text = load_text(path, encoding=encoding)
        except (DatasetError, ValueError) as e:
            assert str(e).startswith("load_text:") and (str(path) in str(e) or encoding == "nope")
            return
        try:
            ds = CharSequenceDataset(text, seq_len)
        except ValueError as e:
            assert str(e).startswith("CharSequenceDataset")
            return
    if len(ds):
        x, y = ds[len(ds) - 1]
        assert x.shape == y.shape == (seq_len,)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                     max_leaves=8)


@fuzz_settings(150)
@given(st.one_of(_JSON, st.fixed_dictionaries({"chars": _JSON})))
def test_fuzz_vocab_from_dict(d):
    try:
        v = CharVocab.from_dict(d)
    except (ValueError, TypeError) as e:
        assert str(e).startswith("CharVocab")
        return
    assert v.decode(v.encode("".join(v.chars))) == "".join(v.chars)


def test_not_utf8_and_empty_files(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"ok\xff")
    with pytest.raises(DatasetError, match=r"bad byte b'\\xff' at offset 2"):
        load_text(tmp_path / "a.txt")
    (tmp_path / "b.txt").write_bytes(b"")
    with pytest.raises(DatasetError, match="is empty"):
        load_text(tmp_path / "b.txt")
    with pytest.raises(ValueError, match="unknown encoding 'nope'"):
        load_text(tmp_path / "a.txt", encoding="nope")
    assert np.array_equal(CharVocab.from_text("ba").encode("ab"), [0, 1])
