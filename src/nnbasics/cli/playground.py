"""``nnbasics playground``: the library training live in a local web page (docs/playground.md)."""

from __future__ import annotations

import sys

from ._command import Command
from ._options import Option, UsageError, non_negative_int

OPTIONS = [
    Option("port", ("--port",), {"type": non_negative_int, "metavar": "P",
                                  "help": "port on 127.0.0.1 (default 8765; 0 picks a free one)"}, 8765),
    Option("no_browser", ("--no-browser",), {"action": "store_true",
                                              "help": "print the address instead of opening a browser"}, False),
]


def run(args) -> int:
    """Serve the playground until Ctrl-C; the address (with its secret token) is printed first."""
    import errno
    import webbrowser

    from ..playground import Session, make_server

    if args.port > 65535:
        raise UsageError(f"--port must be from 0 to 65535; got {args.port}.")
    session = Session().start()
    try:
        server = make_server(session, args.port)
    except OSError as e:
        session.close()
        why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be opened ({e.strerror})"
        raise UsageError(f"port {args.port} {why}; choose another with --port P, or --port 0 for any free "
                         "port.") from None
    print(f"nnbasics playground: {server.url}\n"
          "(the address holds a secret token: share the setup from the page's URL, not this line; Ctrl-C stops)",
          flush=True)
    if not args.no_browser:
        try:
            webbrowser.open(server.url)
        except Exception as e:  # noqa: BLE001 - no browser is not an error: the address is printed
            print(f"could not open a browser ({e}); open the address above.", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.close()
    return 0


COMMAND = Command(
    "playground", run, OPTIONS, order=95,
    help="train a network live in the browser: data, layers, init, optimizer, diagnostics",
    description="Start the playground on 127.0.0.1 and open it in the browser: pick data (2-D sets, your CSV, "
                "images), layers, activations, initialization, optimizer; watch the decision boundary, the "
                "curves, each layer's activations and gradients and the diagnostics' findings while it trains; "
                "compare two runs from the same seed; export the model. The printed address holds a secret "
                "token that every request needs.",
)
