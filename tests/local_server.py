"""Local servers that stand in for the network beyond this machine (the platform's webhook, the
CyberTipline, exchanges, links, mail), each served from a thread of the test process."""

import threading
from socketserver import BaseServer

# How often a serving thread looks for shutdown(). The standard 0.5 s made every test that ends
# with a server stopped wait up to half a second for it; there are several hundred.
POLL_INTERVAL = 0.02


def serve_in_thread(server: BaseServer) -> BaseServer:
    """Serve `server` from a daemon thread until `server.shutdown()`; returns it."""
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True
    ).start()
    return server
