"""The user's CSV: parsed as text only, validated with one message that says where and what to fix."""

import numpy as np
import pytest

from nnbasics.playground.csvdata import MAX_BYTES, MAX_CLASSES, MAX_FEATURES, MAX_ROWS, CsvError, parse_csv


def rows(n, f=lambda i: f"{i},{i % 3},{i % 2}"):
    return "\n".join(f(i) for i in range(n)) + "\n"


def test_header_label_column_by_name_and_text_labels():
    text = "label,x1,x2\n" + rows(12, lambda i: f"{'cat' if i % 2 else 'dog'},{i}.5,{-i}")
    t = parse_csv(text, "pets.csv")
    assert t.feature_names == ["x1", "x2"] and t.label_name == "label" and t.name == "pets.csv"
    assert t.class_names == ["cat", "dog"] and t.task == "classification"
    assert t.X.dtype == np.float32 and t.X.shape == (12, 2)
    np.testing.assert_array_equal(t.X[3], [3.5, -3.0])
    np.testing.assert_array_equal(t.y[:4], [1, 0, 1, 0])


def test_no_header_last_column_is_the_label_and_semicolons_work():
    t = parse_csv(rows(15, lambda i: f"{i};{2 * i};{i % 3}"))
    assert t.feature_names == ["x1", "x2"] and t.label_name == "label"
    assert t.class_names == ["0", "1", "2"] and t.y.dtype == np.int64
    np.testing.assert_array_equal(t.X[:, 1], 2 * np.arange(15))


def test_decimal_labels_make_a_regression_and_integer_labels_are_remapped():
    t = parse_csv("a,b,target\n" + rows(10, lambda i: f"{i},{i},{i / 4}"))
    assert t.task == "regression" and t.y.shape == (10, 1) and t.y.dtype == np.float32
    t = parse_csv(rows(10, lambda i: f"{i},{i},{10 * (i % 2) - 3}"))
    assert t.class_names == ["-3", "7"] and set(t.y.tolist()) == {0, 1}


def test_bytes_with_a_bom_and_blank_lines_are_fine():
    t = parse_csv(("\ufeffx,y,label\n\n" + rows(10)).encode("utf-8"))
    assert t.X.shape == (10, 2)


@pytest.mark.parametrize("text, words", [
    ("", ["empty"]),
    ("x,label\n" + rows(10, lambda i: f"{i},{i % 2}").replace("7,1", "seven,1"), ["row 9", "'x'", "'seven'"]),
    ("x,y,label\n" + rows(10).replace("4,1,0", "4,,0"), ["row 6", "'y'", "empty"]),
    ("x,y,label\n" + rows(10).replace("4,1,0", "nan,1,0"), ["row 6", "not a finite number"]),
    ("x,y,label\n" + rows(10).replace("4,1,0", "inf,1,0"), ["row 6", "finite"]),
    ("x,y,label\n" + rows(10).replace("4,1,0", "4,1"), ["row 6", "2 cells", "3"]),
    ("x,y,label\n" + rows(5), ["5 data rows", "10"]),
    ("x\n" + rows(12, lambda i: f"{i}"), ["one column"]),
    (rows(12, lambda i: f"{i},{i},same"), ["same label", "2 classes"]),
    (rows(30, lambda i: f"{i},{i},{i}"), [f"at most {MAX_CLASSES} classes", "decimal"]),
    ("x,x,label\n" + rows(12), ["'x' twice"]),
    ("x,label\n1,a\n" + '"2,b\n' * 12, ["not valid CSV"]),
    ("x,y,label\n" + rows(12).replace("3,0,1", "1e39,0,1"), ["float32"]),
    ("a\x00b,label\n" + rows(12), ["NUL"]),
    ("x,y,label\n" + rows(10).replace("4,1,0", "4,1,"), ["label", "empty"]),
])
def test_bad_files_get_one_message_naming_the_place(text, words):
    with pytest.raises(CsvError) as e:
        parse_csv(text)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_size_limits():
    big = "x,label\n" + "1.0000000000,1\n" * (MAX_BYTES // 14 + 10)
    with pytest.raises(CsvError, match="larger than 2 MB"):
        parse_csv(big)
    with pytest.raises(CsvError, match=f"more than {MAX_ROWS:,} rows"):
        parse_csv("x,label\n" + "1,0\n1,1\n" * (MAX_ROWS // 2 + 2))
    wide = ",".join(f"f{j}" for j in range(MAX_FEATURES + 1)) + ",label\n"
    wide += ("1," * (MAX_FEATURES + 1) + "0\n") * 12
    with pytest.raises(CsvError, match=f"{MAX_FEATURES + 1} feature columns"):
        parse_csv(wide)
    with pytest.raises(CsvError, match="UTF-8"):
        parse_csv(b"x,label\n\xff\xfe,1\n")


def test_cells_are_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    with pytest.raises(CsvError, match="not a number"):
        parse_csv("x,label\n" + rows(12, lambda i: f"{payload if i == 3 else i},{i % 2}"))
    assert not marker.exists()
