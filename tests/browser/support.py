"""Pieces the browser tests run for real beside the service: a tenant's shop on its own
origin (a page that loads the tracker and its links add-on), and a proxy that can fail
requests on purpose."""

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from eventtracker.tests.live_server import free_port

SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body>
<button id="add-to-cart">Add to cart</button>
<button id="checkout">Checkout</button>
<button id="identify">I am shopper-7</button>
<a id="to-pricing" href="/pricing">Pricing</a>
<a id="price-list" href="/files/price-list.pdf?v=2">Price list (PDF)</a>
<a id="to-docs" href="{service}/health/ping?from=shop">Our status page</a>
<p id="ready"></p>
<script src="{service}/js/site.js"></script>
<script src="{service}/js/site.links.js"></script>
<script>
  const params = new URLSearchParams(location.search);
  // ?web=1: the web analytics snippet's defaults (page views, cookieless); otherwise
  // the tracker as an app uses it (its own events, a stored anonymous id).
  const web = params.get("web") === "1";
  eventtracker.init({{key: params.get("key"), host: params.get("host"),
                     flushInterval: Number(params.get("flush") || 200),
                     autocapture: web, cookieless: web,
                     sensitiveParams: ["key", "host", "flush", "web", "token", "email"]}});
  // A single-page app's link: the address changes, the page stays.
  document.getElementById("to-pricing").onclick = (event) => {{
    event.preventDefault();
    history.pushState({{}}, "", "/pricing");
    document.title = "Pricing";
  }};
  // A download that keeps the page (the test's shop has no files to send).
  document.getElementById("price-list").onclick = (event) => event.preventDefault();
  document.getElementById("add-to-cart").onclick =
    () => eventtracker.track("add_to_cart", {{sku: "A-1", price: 12.5}});
  document.getElementById("checkout").onclick =
    () => eventtracker.track("checkout", {{items: 1}});
  document.getElementById("identify").onclick = () => eventtracker.identify("shopper-7");
  document.getElementById("ready").textContent = "ready";
</script>
</body></html>
"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[_Server, str]:
    """Serve `handler` on a free 127.0.0.1 port in a thread; returns (server, base URL)."""
    port = free_port()
    server = _Server(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


def shop_handler(service: str) -> type[BaseHTTPRequestHandler]:
    """Serves SHOP_PAGE at any path: the tenant's web site, on an origin of its own."""
    page = SHOP_PAGE.format(service=service).encode()

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    return Shop


@dataclass
class ProxyLog:
    """What went through the proxy: (method, path, status it answered)."""

    seen: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.seen.append((method, path, status))

    def methods(self) -> list[str]:
        with self.lock:
            return [method for method, _, _ in self.seen]


def proxy_handler(
    upstream: str, log: ProxyLog, fail: Callable[[str, str], int | None]
) -> type[BaseHTTPRequestHandler]:
    """Forwards every request to `upstream`, unless `fail(method, path)` returns a
    status, which is answered instead (with CORS headers, as the service would)."""
    target = urlsplit(upstream)

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = fail(self.command, self.path)
            if status is not None:
                self._answer(status, {"Retry-After": "0"}, b'{"detail": "injected"}')
            else:
                status = self._forward(body)
            log.add(self.command, self.path, status)

        def _forward(self, body: bytes) -> int:
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            passed = {
                k: v
                for k, v in response.getheaders()
                if k.lower() not in {"connection", "transfer-encoding", "content-length"}
            }
            self._answer(response.status, passed, payload)
            connection.close()
            return response.status

        def _answer(self, status: int, headers: dict, payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Access-Control-Allow-Origin" not in headers and self.headers.get("Origin"):
                self.send_header("Access-Control-Allow-Origin", self.headers["Origin"])
                self.send_header("Access-Control-Expose-Headers", "Retry-After")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_OPTIONS = _handle

        def log_message(self, *args):
            pass

    return Proxy
