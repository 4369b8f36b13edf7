"""``nnbasics playground``: prints its address with the token, serves the page, stops cleanly on Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from nnbasics.cli import main


def test_serves_until_ctrl_c_and_refuses_requests_without_the_token(ctrl_c_reaches_children):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "nnbasics", "playground", "--port", "0", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("nnbasics playground: http://127.0.0.1:") and "?token=" in line
        url = line.split(": ", 1)[1].strip()
        with urllib.request.urlopen(url, timeout=30) as res:
            assert res.status == 200 and b"nnbasics playground" in res.read()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url.split("?")[0] + "api/frame", timeout=30)
        assert e.value.code == 403
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "stopped" in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_a_port_in_use_is_a_usage_error(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(SystemExit) as e:
            main(["playground", "--port", str(port), "--no-browser"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"port {port} is in use" in err and "--port 0" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as e:
        main(["playground", "--port", "70000", "--no-browser"])
    assert e.value.code == 2
