"""predict reads CSV files as spreadsheets and scripts write them (issue 14, held-out cases).

Before: a header row, a UTF-8 byte-order mark (Excel's "CSV UTF-8") and quoted numbers were
refused with NumPy's "could not convert string 'x' to float64", an empty file printed a
UserWarning with a source line and then claimed it held inputs of shape (1,), and ``-`` (CSV
piped on standard input) was "no input file -". Every refusal is one message naming the line
and saying what the file must look like, exit 2.
"""

import io
import sys

import pytest

from nnbasics.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("csv") / "run"
    assert main(["train", "spiral", "--epochs", "1", "--n-train", "60", "--hidden", "4", "--progress", "none",
                 "--output", str(out)]) == 0
    return out


def _predict(run, tmp_path, capsys, content: bytes):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    capsys.readouterr()
    try:
        code = main(["predict", str(run), str(path)])
    except SystemExit as e:  # a user error: the parser's exit
        code = e.code
    return code, capsys.readouterr()


PLAIN = b"0.2,0.1\n-0.5,0.4\n"


@pytest.mark.parametrize("content", [
    b"x,y\n0.2,0.1\n-0.5,0.4\n",                 # a header row
    b"\xef\xbb\xbf0.2,0.1\r\n-0.5,0.4\r\n",      # Excel's CSV UTF-8: a BOM and Windows line ends
    b'"0.2","0.1"\n"-0.5","0.4"\n',             # quoted numbers
    b"0.2,0.1\n\n-0.5,0.4\n\n",                  # blank lines
], ids=["header", "bom-crlf", "quoted", "blank-lines"])
def test_spreadsheet_csv_files_give_the_plain_files_predictions(run, tmp_path, capsys, content):
    code, plain = _predict(run, tmp_path, capsys, PLAIN)
    assert code == 0 and plain.out.count("\n") == 2
    expected = plain.out
    code, out = _predict(run, tmp_path, capsys, content)
    assert code == 0 and out.out == expected


@pytest.mark.parametrize(("content", "says"), [
    (b"", "holds no rows"),
    (b"\n\n", "holds no rows"),
    (b"x,y\n0.2,0.1\nfoo,1\n", "line 3 holds 'foo', which is not a number"),
    (b"0.2;0.1\n", "separated by ';': use ','"),
    (b"0.2,0.1\n0.3\n", "line 2 has 1 values"),
    (b"0.2,0.1,\n", "line 1 holds ''"),
    (b"\xff\xfe0\x00.\x002\x00", "is not UTF-8 text"),
], ids=["empty", "blank", "word", "semicolons", "ragged", "trailing-comma", "utf16"])
def test_bad_csv_files_are_one_message_and_exit_2(run, tmp_path, capsys, content, says):
    code, out = _predict(run, tmp_path, capsys, content)
    assert code == 2 and says in out.err, out.err
    assert "Traceback" not in out.err and "Warning" not in out.err
    assert "one sample per line" in out.err


def test_csv_on_standard_input(run, tmp_path, capsys, monkeypatch):
    expected = _predict(run, tmp_path, capsys, PLAIN)[1].out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x,y\n" + PLAIN)))
    assert main(["predict", str(run), "-"]) == 0
    assert capsys.readouterr().out == expected
