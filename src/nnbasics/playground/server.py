"""The playground's HTTP server: standard library only, bound to 127.0.0.1, a secret token on every request.

Routes (every one needs ``?token=<token>``):

====================================  ===========================================================
``GET /``                             the page (``static/index.html``, token filled in)
``GET /static/<file>``                its scripts, styles and the copied uPlot
``GET /events``                       server-sent events: one JSON frame per update
``GET /api/info``, ``/api/frame``,    the choices and presets; the latest frame; the data
``/api/data``
``GET /api/export?format=F&run=R``    a file to download (checkpoint, onnx, toml, script)
``POST /api/<control>``               JSON body: config, play, pause, step, reset, compare,
                                      preset, upload
====================================  ===========================================================

Security (another local user, or a web page in the user's own browser, must not drive it):

* the socket is bound to 127.0.0.1 only;
* a random token (``secrets.token_urlsafe``, 192 bits) must be in the URL of every request,
  compared in constant time; the page never sends it to another site (no external
  resources, ``Referrer-Policy: no-referrer``);
* the ``Host`` header must name this server (127.0.0.1, localhost or [::1] with its port), which
  defeats DNS rebinding, and an ``Origin`` header, when sent, must be this server's origin;
* controls are POSTs of ``application/json`` (never a form a foreign page could submit), bodies
  at most :data:`MAX_BODY` bytes, uploads parsed as text (:mod:`.csvdata`), never executed;
* responses carry a strict Content-Security-Policy (scripts and styles from this server only).

A bad request gets one JSON ``{"error": ...}`` with a message that says what to do; the server
keeps running.
"""

from __future__ import annotations

import hmac
import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from .config import ConfigError
from .csvdata import MAX_BYTES

__all__ = ["MAX_BODY", "PlaygroundServer", "make_server"]

MAX_BODY = 3 * MAX_BYTES  # a CSV's text inside JSON (escapes can grow it)
_STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
           "views.js": "text/javascript; charset=utf-8", "charts.js": "text/javascript; charset=utf-8",
           "controls.js": "text/javascript; charset=utf-8", "diag.js": "text/javascript; charset=utf-8",
           "style.css": "text/css; charset=utf-8", "uPlot.LICENSE": "text/plain; charset=utf-8",
           "uPlot.iife.min.js": "text/javascript; charset=utf-8", "uPlot.min.css": "text/css; charset=utf-8"}
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
_CONTROLS = ("config", "play", "pause", "step", "reset", "compare", "preset", "upload")


def _static(name: str) -> bytes:
    return resources.files("nnbasics.playground").joinpath("static", name).read_bytes()


class PlaygroundServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the session and the token; ``url`` opens the page."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, session, port: int = 0, token: str | None = None, quiet: bool = True):
        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        self.quiet = quiet
        super().__init__(("127.0.0.1", int(port)), _Handler)
        self.port = self.server_address[1]
        self.hosts = {f"{h}:{self.port}" for h in ("127.0.0.1", "localhost", "[::1]")}
        self.origins = {f"http://{h}" for h in self.hosts}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def serve_in_thread(self):
        """Serve from a daemon thread (tests, notebooks); returns the thread."""
        t = threading.Thread(target=self.serve_forever, name="playground-http", daemon=True)
        t.start()
        return t

    def close(self):
        """Stop serving, wake the event streams, close the socket."""
        self.session.close()
        self.shutdown()
        self.server_close()


def make_server(session, port: int = 0, token: str | None = None, quiet: bool = True) -> PlaygroundServer:
    """A server for ``session`` on 127.0.0.1:``port`` (0: any free port).

    Raises:
        OSError: the port is taken (or not allowed).
    """
    return PlaygroundServer(session, port, token, quiet)


class _Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    server_version = "nnbasics-playground"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("playground: " + fmt % args + "\n")

    # ------------------------------------------------------------------ checks
    def _check(self):
        """Host, Origin and token; returns the query dict."""
        srv = self.server
        if self.headers.get("Host", "") not in srv.hosts:
            raise _Refused(403, "unexpected Host header: open the address `nnbasics playground` printed "
                                f"(http://127.0.0.1:{srv.port}/?token=...).")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in srv.origins:
            raise _Refused(403, "requests from other web pages are refused.")
        if self.headers.get("Sec-Fetch-Site") == "cross-site":
            raise _Refused(403, "requests from other web pages are refused.")
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if not hmac.compare_digest(query.get("token", "").encode(), srv.token.encode()):
            raise _Refused(403, "missing or wrong token: open the full address `nnbasics playground` printed, "
                                "including ?token=...")
        return parts.path, query

    def _headers(self, status, media, length=None, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", media)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", _CSP)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _send(self, status, body: bytes, media: str, extra=None):
        self._headers(status, media, len(body), extra)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj, allow_nan=False).encode("utf-8"), "application/json")

    def _error(self, status, message):
        self._json(status, {"error": message})

    # ------------------------------------------------------------------ GET
    def do_GET(self):
        try:
            path, query = self._check()
            self._get(path, query)
        except _Refused as e:
            self._error(e.status, str(e))
        except ConfigError as e:
            self._error(400, str(e))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # noqa: BLE001 - the server must survive any one request
            self._internal(e)

    def _get(self, path, query):
        session = self.server.session
        if path == "/":
            page = _static("index.html").replace(b"{{TOKEN}}", self.server.token.encode())
            return self._send(200, page, _STATIC["index.html"])
        if path.startswith("/static/"):
            name = path[len("/static/"):]
            if name not in _STATIC:
                return self._error(404, f"no file {name!r}.")
            return self._send(200, _static(name), _STATIC[name])
        if path == "/events":
            return self._events()
        if path == "/api/info":
            return self._json(200, session.info())
        if path == "/api/frame":
            return self._json(200, session.frame())
        if path == "/api/data":
            return self._json(200, session.data_view())
        if path == "/api/export":
            name, body, media = session.export(query.get("format", ""), query.get("run", "a"))
            return self._send(200, body, media, {"Content-Disposition": f'attachment; filename="{name}"'})
        return self._error(404, f"no page {path!r}.")

    def _events(self):
        """Server-sent events: the latest frame now, then every newer one (history and data sent as deltas)."""
        session = self.server.session
        self._headers(200, "text/event-stream; charset=utf-8", extra={"Connection": "close"})
        self.close_connection = True
        state = {"data_rev": 0, "hist": {}}
        frame = session.frame()
        while frame is not None:
            payload = json.dumps(_client_frame(frame, state, session), allow_nan=False)
            self.wfile.write(b"data: " + payload.encode("utf-8") + b"\n\n")
            self.wfile.flush()
            last = frame["id"]
            frame = None
            while frame is None and not session.closed:
                frame = session.wait_frame(last, timeout=10.0)
                if frame is None and not session.closed:
                    self.wfile.write(b": keep-alive\n\n")  # finds a closed connection
                    self.wfile.flush()

    # ------------------------------------------------------------------ POST
    def do_POST(self):
        try:
            path, _ = self._check()
            body = self._body()
            action = path[len("/api/"):] if path.startswith("/api/") else ""
            if action not in _CONTROLS:
                return self._error(404, f"no control {path!r}; controls: {', '.join(_CONTROLS)}.")
            result = self._control(action, body)
            self._json(200, {"ok": True, **result})
        except _Refused as e:
            self._error(e.status, str(e))
        except (ConfigError, ValueError, TypeError) as e:  # CsvError is a ValueError
            self._error(400, str(e))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # noqa: BLE001
            self._internal(e)

    def _body(self) -> dict:
        media = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise _Refused(415, "controls take a JSON body (Content-Type: application/json).")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise _Refused(411, "a control needs a Content-Length.") from None
        if length < 0 or length > MAX_BODY:
            raise _Refused(413, f"the request is larger than {MAX_BODY // 1024 // 1024} MB; upload a smaller file "
                                f"(at most {MAX_BYTES // 1024 // 1024} MB of CSV).")
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise _Refused(400, "the body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _Refused(400, "the body must be a JSON object.")
        return body

    def _control(self, action, body) -> dict:
        s = self.server.session
        if action == "config":
            out = s.set_config(body.get("config", {}), _field(body, "run", str, "a"))
            return {"applied": out["applied"], "config": out["config"]}
        if action == "play":
            s.play()
        elif action == "pause":
            s.pause()
        elif action == "step":
            n = body.get("n", 1)
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10000:
                raise ConfigError(f"step: n must be a whole number from 1 to 10000; got {n!r}.")
            s.step(n)
        elif action == "reset":
            s.reset()
        elif action == "compare":
            s.compare(_field(body, "on", bool, True), body.get("config"))
        elif action == "preset":
            s.apply_preset(_field(body, "name", str, ""), play=_field(body, "play", bool, True))
        else:  # upload
            text = body.get("text")
            if not isinstance(text, str):
                raise ConfigError("upload: send the file's text as {\"name\": ..., \"text\": ...}.")
            s.upload_csv(text, _field(body, "name", str, "data.csv"))
        return {}

    def _internal(self, e):
        sys.stderr.write(f"playground: internal error on {self.command} {urlsplit(self.path).path}: "
                         f"{type(e).__name__}: {e}\n")
        try:
            self._error(500, f"internal error ({type(e).__name__}: {e}); the server keeps running — reset, or "
                             "report it with the setup's URL.")
        except OSError:
            pass


def _field(body, key, kind, default):
    """``body[key]`` checked to be a JSON ``kind`` (str or bool; ``default`` when absent): ``"on": "no"``
    is refused, not taken as true."""
    value = body.get(key, default)
    if not isinstance(value, kind):
        name = {str: "a string", bool: "true or false"}[kind]
        raise ConfigError(f"{key!r} must be {name}; got {value!r:.60}.")
    return value


def _client_frame(frame, state, session) -> dict:
    """``frame`` for one event stream: history only from where this client is, the data when it changed."""
    out = {k: v for k, v in frame.items() if k != "runs"}
    runs = {}
    for key, view in frame["runs"].items():
        ident = (frame["hist_ids"][key], view["every"])
        seen = state["hist"].get(key)
        n = len(view["history"]["step"])
        start = seen[1] if seen is not None and seen[0] == ident and seen[1] <= n else 0
        runs[key] = {**view, "history": {k: v[start:] for k, v in view["history"].items()}, "history_from": start}
        state["hist"][key] = (ident, n)
    out["runs"] = runs
    if state["data_rev"] != frame["data_rev"]:
        out["data"] = session.data_view()
        state["data_rev"] = out["data"]["rev"]
    return out
