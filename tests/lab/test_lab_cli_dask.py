"""nnbasics lab --dask ADDRESS: the sweeps of an experiment run on a Dask cluster, with the same
numbers as serially (jobs carry their own seeds); a wrong address is a usage error, not a traceback."""

import json

import pytest
from distributed import LocalCluster

from nnbasics import cli


def test_lab_sweeps_run_on_a_dask_cluster_with_the_serial_numbers(tmp_path, capsys):
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        assert cli.main(["lab", "data", "--quick", "--no-progress", "--dask", cluster.scheduler_address,
                         "--output", str(tmp_path / "dask")]) == 0
        assert cluster.scheduler.transition_counter > 0  # the sweep's jobs went through the scheduler
    assert cli.main(["lab", "data", "--quick", "--no-progress", "--executor", "serial",
                     "--output", str(tmp_path / "serial")]) == 0
    dask_run = json.loads((tmp_path / "dask" / "metrics.json").read_text())
    serial_run = json.loads((tmp_path / "serial" / "metrics.json").read_text())
    assert dask_run["metrics"] == serial_run["metrics"]
    assert json.loads((tmp_path / "dask" / "config.json").read_text())["executor"] == "Client"
    assert "verdict" in capsys.readouterr().out


def test_lab_dask_errors_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["lab", "data", "--quick", "--dask", "tcp://127.0.0.1:9", "--executor", "serial"])
    assert info.value.code == 2 and "not both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["lab", "data", "--quick", "--no-progress", "--dask", "tcp://127.0.0.1:9"])
    assert info.value.code == 2 and "cannot reach a Dask scheduler" in capsys.readouterr().err
