"""The HTTP server: the token, Host and Origin checks, JSON controls, limits, server-sent events, errors."""

import http.client
import json

import pytest

from nnbasics.playground.server import MAX_BODY, make_server
from nnbasics.playground.session import Session


@pytest.fixture(scope="module")
def server():
    srv = make_server(Session({"dataset": "xor", "n": 60, "layers": [{"units": 3, "activation": "tanh"}]}), 0)
    srv.serve_in_thread()
    yield srv
    srv.close()


def request(srv, method, path, body=None, headers=None, token=True, raw=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
    sep = "&" if "?" in path else "?"
    url = path + (f"{sep}token={srv.token}" if token is True else (f"{sep}token={token}" if token else ""))
    hdrs = {"Host": f"127.0.0.1:{srv.port}"}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    conn.request(method, url, body=data, headers=hdrs)
    res = conn.getresponse()
    out = res.status, dict(res.getheaders()), res.read()
    conn.close()
    return out


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/", None), ("GET", "/static/app.js", None), ("GET", "/api/frame", None), ("GET", "/events", None),
    ("GET", "/api/export?format=toml", None), ("POST", "/api/play", {}), ("POST", "/api/config", {"config": {}}),
])
@pytest.mark.parametrize("token", [False, "wrong", "x" * 32])
def test_every_request_needs_the_token(server, method, path, body, token):
    status, _, out = request(server, method, path, body, token=token)
    assert status == 403 and b"token" in out
    assert not server.session.playing


def test_the_page_carries_the_token_and_a_strict_policy(server):
    status, headers, page = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert f'data-token="{server.token}"'.encode() in page and b"{{TOKEN}}" not in page
    assert "script-src 'self'" in headers["Content-Security-Policy"] and "unsafe" not in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer" and headers["X-Frame-Options"] == "DENY"
    assert b"cdn" not in page.lower() and b"https://" not in page  # offline: nothing from elsewhere
    for name in ("app.js", "controls.js", "views.js", "diag.js", "charts.js", "style.css", "uPlot.iife.min.js",
                 "uPlot.min.css", "uPlot.LICENSE"):
        status, headers, body = request(server, "GET", f"/static/{name}")
        assert status == 200 and body and headers["X-Content-Type-Options"] == "nosniff", name
    assert request(server, "GET", "/static/../server.py")[0] == 404
    assert request(server, "GET", "/static/session.py")[0] == 404


@pytest.mark.parametrize("host", ["evil.example:80", "127.0.0.1", "127.0.0.1:1", "attacker.localhost"])
def test_dns_rebinding_is_refused_by_the_host_check(server, host):
    status, _, out = request(server, "GET", "/api/frame", headers={"Host": host})
    assert status == 403 and b"Host" in out


def test_localhost_names_and_same_origin_are_accepted_other_origins_refused(server):
    for host in (f"localhost:{server.port}", f"[::1]:{server.port}"):
        assert request(server, "GET", "/api/info", headers={"Host": host})[0] == 200
    same = {"Origin": f"http://127.0.0.1:{server.port}"}
    assert request(server, "POST", "/api/pause", {}, headers=same)[0] == 200
    for origin in ("http://evil.example", f"http://127.0.0.1:{server.port + 1}", "null"):
        status, _, out = request(server, "POST", "/api/play", {}, headers={"Origin": origin})
        assert status == 403 and b"other web pages" in out
    assert request(server, "POST", "/api/play", {}, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert not server.session.playing


def test_controls_take_json_only_within_limits(server):
    status, _, out = request(server, "POST", "/api/play", raw=b"{}", headers={"Content-Type": "text/plain"})
    assert status == 415
    status, _, out = request(server, "POST", "/api/config", raw=b"{", headers={"Content-Type": "application/json"})
    assert status == 400 and b"not valid JSON" in out
    status, _, out = request(server, "POST", "/api/config", raw=b"[1]", headers={"Content-Type": "application/json"})
    assert status == 400 and b"JSON object" in out
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", f"/api/upload?token={server.token}", skip_host=True)
    conn.putheader("Host", f"127.0.0.1:{server.port}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    conn.endheaders()
    res = conn.getresponse()
    assert res.status == 413 and b"MB" in res.read()  # refused before the body is read
    conn.close()
    assert request(server, "POST", "/api/launch", {})[0] == 404


def test_controls_and_their_errors(server):
    status, _, out = request(server, "POST", "/api/config", {"config": {"lr": 0.25}})
    assert status == 200 and json.loads(out)["applied"] == "live" and server.session.configs["a"]["lr"] == 0.25
    status, _, out = request(server, "POST", "/api/config", {"config": {"lr": "fast"}})
    assert status == 400 and "lr" in json.loads(out)["error"]
    status, _, out = request(server, "POST", "/api/upload", {"name": "bad.csv", "text": "a,b,label\n1,x,0\n" * 12})
    assert status == 400 and "row 2, column 'b'" in json.loads(out)["error"]
    status, _, out = request(server, "POST", "/api/step", {"n": 3})
    assert status == 200 and server.session.frame()["runs"]["a"]["step"] >= 3
    assert request(server, "POST", "/api/step", {"n": 0})[0] == 400
    assert request(server, "GET", "/api/export?format=pickle")[0] == 400
    status, headers, body = request(server, "GET", "/api/export?format=toml")
    assert status == 200 and headers["Content-Disposition"] == 'attachment; filename="model.toml"'
    assert b"[[layers]]" in body


def test_an_internal_error_is_one_json_message_and_the_server_lives_on(server, monkeypatch):
    monkeypatch.setattr(server.session, "info", lambda: 1 / 0)
    status, _, out = request(server, "GET", "/api/info")
    assert status == 500 and "ZeroDivisionError" in json.loads(out)["error"]
    monkeypatch.undo()
    assert request(server, "GET", "/api/info")[0] == 200


def read_event(res):
    lines = []
    while True:
        line = res.fp.readline().decode()
        if line.startswith("data: "):
            lines.append(line[6:])
        elif line == "\n" and lines:
            return json.loads("".join(lines))


def test_events_stream_frames_with_history_deltas(server):
    server.session.reset()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    conn.request("GET", f"/events?token={server.token}", headers={"Host": f"127.0.0.1:{server.port}"})
    res = conn.getresponse()
    assert res.status == 200 and res.getheader("Content-Type").startswith("text/event-stream")
    first = read_event(res)
    assert first["data"]["kind"] == "2d" and first["runs"]["a"]["history_from"] == 0
    n = len(first["runs"]["a"]["history"]["step"])
    request(server, "POST", "/api/step", {"n": 2})
    nxt = read_event(res)
    while nxt["runs"]["a"]["step"] < first["runs"]["a"]["step"] + 2:
        nxt = read_event(res)
    assert "data" not in nxt  # sent once
    assert nxt["runs"]["a"]["history_from"] == n and nxt["runs"]["a"]["history"]["step"][-1] == nxt["runs"]["a"]["step"]
    conn.close()


def test_every_file_of_the_page_is_served_and_shipped():
    from importlib import resources
    from pathlib import Path

    from nnbasics.models.spec import read_toml
    from nnbasics.playground import server as srv

    static = {p.name for p in resources.files("nnbasics.playground").joinpath("static").iterdir()}
    assert static == set(srv._STATIC)  # a new file must be added to the server's table
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert read_toml(pyproject)["tool"]["setuptools"]["package-data"]["nnbasics.playground"] == \
        ["static/*"]
    licence = resources.files("nnbasics.playground").joinpath("static", "uPlot.LICENSE").read_text()
    assert "MIT License" in licence and "Leon Sorokin" in licence
    assert resources.files("nnbasics.playground").joinpath("static", "uPlot.iife.min.js").read_text().startswith(
        "/*! https://github.com/leeoniya/uPlot (v1.6.32) */")


@pytest.mark.parametrize("path, body, key", [
    ("/api/compare", {"on": "no"}, "'on' must be true or false"),       # was taken as true: compare turned on
    ("/api/config", {"config": {}, "run": ["a"]}, "'run' must be a string"),  # was "unhashable type: 'list'"
    ("/api/preset", {"name": None}, "'name' must be a string"),         # was "unknown preset 'None'"
    ("/api/preset", {"name": "xor-hidden", "play": "false"}, "'play' must be true or false"),
    ("/api/upload", {"text": "a,label\n1,0\n" * 12, "name": 7}, "'name' must be a string"),
])
def test_control_fields_of_the_wrong_json_type_are_refused_not_coerced(server, path, body, key):
    """Found by the audit (issue 17): fields were passed through bool()/str(), so {"on": "no"} meant on."""
    compare_before = "b" in server.session.configs
    status, _, out = request(server, "POST", path, body)
    assert status == 400 and json.loads(out)["error"].startswith(key)
    assert ("b" in server.session.configs) == compare_before
