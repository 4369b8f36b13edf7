"""The playground: the real library training in a local server, the page in the browser.

``nnbasics playground`` (or :func:`serve`) starts a standard-library HTTP server on 127.0.0.1
and opens a hand-written page (``static/``, with uPlot copied in: no CDN, no build step). A
worker thread trains nnbasics networks with nnbasics optimizers; the page gets server-sent
events and sends its controls as JSON. See docs/playground.md.

Modules, in the order data flows:

* :mod:`.config` -- a setup (a flat dict), its validation and what a change needs;
* :mod:`.csvdata`, :mod:`.datasets` -- the user's CSV (parsed as text only), the 2-D sets and images;
* :mod:`.network` -- the setup's network as a layer-list spec (:mod:`nnbasics.models.spec`);
* :mod:`.trainer` -- one run: seeded weights and batches, steps, NaN location, history;
* :mod:`.findings`, :mod:`.views` -- what the page shows, diagnostics included;
* :mod:`.presets` -- the lecture's stories, two runs each;
* :mod:`.session` -- runs A and B, the lock, the worker thread, frames;
* :mod:`.server` -- HTTP, security (token, Host, Origin), server-sent events;
* :mod:`.export`, :mod:`.script` -- checkpoint, ONNX, TOML spec, Python script.

Importing this package imports none of them (``Session``, ``make_server`` and ``serve`` load on
first use).

Example:
    >>> from nnbasics.playground import Session
    >>> s = Session({"dataset": "moons"})
    >>> s.step(5)["runs"]["a"]["step"]
    5
"""

from __future__ import annotations

__all__ = ["Session", "make_server", "serve"]


def __getattr__(name):
    if name == "Session":
        from .session import Session

        return Session
    if name == "make_server":
        from .server import make_server

        return make_server
    raise AttributeError(f"module 'nnbasics.playground' has no attribute {name!r}")


def serve(config=None, port: int = 0, open_browser: bool = False):
    """Start a playground (worker and server threads) and return the server; ``server.url`` opens it.

    Args:
        config: the first setup (partial dict).
        port: port on 127.0.0.1 (0: any free port).
        open_browser: open the page in the default browser.

    Returns:
        PlaygroundServer (``server.close()`` stops it).
    """
    from .server import make_server
    from .session import Session

    server = make_server(Session(config).start(), port)
    server.serve_in_thread()
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    return server
