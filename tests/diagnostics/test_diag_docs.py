"""docs/diagnostics.md runs as written: every ```python block, in order, in one namespace."""

from guides import run_guide


def test_guide_code_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ns = run_guide("diagnostics.md", min_blocks=6)
    out = capsys.readouterr().out
    # what the prose claims
    assert ns["ratios"]["sigmoid"] < 1e-3 * ns["ratios"]["relu"]
    assert ns["mon"].steps == list(range(8)) and "| layer | kind |" in out
    assert "saturated" in out and ns["saturation"].shape == (4,) and ns["saturation"].min() > 0.5
    assert any(f.startswith("activations shrink by") for f in ns["report"].findings())
    assert not any(f.startswith("activations") for f in ns["he"].findings())
    assert ns["check"].ok
