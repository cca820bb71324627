"""A closed-loop HTTP load generator: C client processes, one persistent connection each.

Each client sends a request, waits for the whole answer, records the latency and
sends the next, until the phase's time or request budget is spent. Processes (not
threads) so that the clients do not share one GIL. The HTTP/1.1 client is a few
lines over a socket rather than `http.client`: on this 2-core machine the client
shares the CPU with the server, and `http.client` spends ~230 µs of CPU per request
(header parsing through the email package) against ~45 µs here, which would
flatter every ratio against the cheap hello baseline. Only 127.0.0.1 is contacted.

Ingest phases also report every uuid they sent and the status the server gave it
(`accepted` / `duplicate` / `rejected`, or `unacknowledged` when the request failed),
so the run can check afterwards that each acknowledged event is stored exactly once.
"""

import datetime as dt
import multiprocessing
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from queue import Empty

import orjson

HOST = "127.0.0.1"
WARMUP_REQUESTS = 5
WARMUP_SECONDS = 0.5
TIMEOUT_SECONDS = 30


@dataclass(slots=True)
class Phase:
    """What every client of one phase sends."""

    kind: str  # "hello" | "single" | "batch" | "get"
    port: int
    path: str
    duration: float
    max_requests: int
    concurrency: int
    tokens: tuple[str, ...] = ()
    batch_size: int = 1
    event_names: tuple[str, ...] = ()
    users: int = 50_000
    seed: int = 0
    # COPY baseline only: where to write, and per tenant (tenant_id, user_id, {name: event_id})
    dsn: str = ""
    copy_table: str = ""
    copy_tenants: tuple = ()


@dataclass(slots=True)
class ClientResult:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # uuid string -> receipt statuses, in the order received
    receipts: list[tuple[str, str]] = field(default_factory=list)
    events_sent: int = 0
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0
    slot: int = 0  # which credential (tenant) this client used


@dataclass(slots=True)
class PhaseResult:
    phase: str
    requests: int
    events: int
    wall_seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    errors: list[str]
    receipts: list[tuple[str, str]]
    client_cpu_seconds: float
    # per credential slot, a sample of uuids the server accepted (for the replay check)
    accepted_sample: dict[int, list[str]] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def eps(self) -> float:
        return self.events / self.wall_seconds if self.wall_seconds else 0.0


def uuid7_str(rng: random.Random) -> str:
    """A version-7 uuid (time-ordered), as SDKs such as posthog-js generate them."""
    millis = time.time_ns() // 1_000_000
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64
    value |= 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def make_event(rng: random.Random, phase: Phase, now: dt.datetime) -> dict:
    """One event as a client SDK would send it: explicit uuid, recent timestamp."""
    moment = now - dt.timedelta(seconds=rng.random() * 60)
    return {
        "event_name": rng.choice(phase.event_names),
        "distinct_id": f"user-{rng.randrange(phase.users)}",
        "uuid": uuid7_str(rng),
        "timestamp": moment.isoformat(),
        "data": {"path": f"/page/{rng.randrange(500)}", "plan": rng.choice(("free", "pro"))},
    }


def run_phase(name: str, phase: Phase) -> PhaseResult:
    """Start the clients together, wait for all, merge what they saw."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(phase.concurrency)
    queue = context.Queue()
    clients = [
        context.Process(target=_client_main, args=(phase, index, barrier, queue), daemon=True)
        for index in range(phase.concurrency)
    ]
    for client in clients:
        client.start()
    # Drain before joining: a child cannot exit while its result is still in the pipe.
    results = _collect(queue, clients, timeout=phase.duration + 120)
    for client in clients:
        client.join(timeout=30)
    failed = [r for r in results if isinstance(r, str)]
    if failed:
        raise RuntimeError(f"load client failed: {failed[0]}")
    statuses: dict[int, int] = {}
    for result in results:
        for code, n in result.statuses.items():
            statuses[code] = statuses.get(code, 0) + n
    latencies = sorted(lat for result in results for lat in result.latencies)
    wall = max(r.finished for r in results) - min(r.started for r in results)
    return PhaseResult(
        phase=name,
        requests=len(latencies),
        events=sum(r.events_sent for r in results),
        wall_seconds=wall,
        latencies=latencies,
        statuses=statuses,
        errors=[error for result in results for error in result.errors][:20],
        receipts=[receipt for result in results for receipt in result.receipts],
        client_cpu_seconds=sum(r.cpu_seconds for r in results),
        accepted_sample=_samples(results),
    )


def _samples(results: list[ClientResult], size: int = 200) -> dict[int, list[str]]:
    samples: dict[int, list[str]] = {}
    for result in results:
        bucket = samples.setdefault(result.slot, [])
        for uuid_, status in result.receipts:
            if len(bucket) >= size:
                break
            if status == "accepted":
                bucket.append(uuid_)
    return samples


def _collect(queue, clients, *, timeout: float) -> list:
    results: list = []
    deadline = time.monotonic() + timeout
    while len(results) < len(clients):
        try:
            results.append(queue.get(timeout=1))
        except Empty:
            crashed = [c.exitcode for c in clients if c.exitcode not in (None, 0)]
            if crashed or time.monotonic() > deadline:
                for client in clients:
                    client.terminate()
                raise RuntimeError(f"load clients failed or hung (exit codes {crashed})") from None
    return results


def _client_main(phase: Phase, index: int, barrier, queue) -> None:
    try:
        queue.put(_client(phase, index, barrier))
    except Exception as exc:
        barrier.abort()
        queue.put(f"{type(exc).__name__}: {exc}")


def _client(phase: Phase, index: int, barrier) -> ClientResult:
    # Non-cryptographic randomness is all a load generator needs; seeded for repeatability.
    rng = random.Random(f"{phase.seed}-{index}-{os.getpid()}")  # noqa: S311 - test data
    result = ClientResult(slot=index % max(len(phase.tokens), len(phase.copy_tenants), 1))
    sender = _sender(phase, index)
    share = phase.max_requests // phase.concurrency + (
        index < phase.max_requests % phase.concurrency
    )
    # Warm-up (connections, worker imports, caches): a few requests, at most ~0.5 s.
    warm_until = time.perf_counter() + WARMUP_SECONDS
    for _ in range(WARMUP_REQUESTS):
        sender.send(rng, result, record=False)
        if time.perf_counter() > warm_until:
            break
    barrier.wait()
    cpu = time.process_time()
    result.started = time.perf_counter()
    deadline = result.started + phase.duration
    sent = 0
    while sent < share and time.perf_counter() < deadline:
        sender.send(rng, result, record=True)
        sent += 1
    result.finished = time.perf_counter()
    result.cpu_seconds = time.process_time() - cpu
    sender.close()
    return result


def _sender(phase: Phase, index: int):
    if phase.kind == "copy":
        from bench.copy_baseline import CopySender  # psycopg only where it is used

        return CopySender(phase, index)
    return HttpSender(phase, index)


class HttpSender:
    """One client's persistent connection and credential."""

    def __init__(self, phase: Phase, index: int) -> None:
        self.phase = phase
        self.token = phase.tokens[index % len(phase.tokens)] if phase.tokens else ""
        self.conn = Connection(phase.port)

    def send(self, rng: random.Random, result: ClientResult, *, record: bool) -> None:
        self.conn = _one(self.conn, self.phase, rng, self.token, result, record=record)

    def close(self) -> None:
        self.conn.close()


def _request(phase: Phase, rng: random.Random, token: str) -> tuple[str, bytes | None, list]:
    """(method, body, events in it)"""
    now = dt.datetime.now(dt.UTC)
    if phase.kind == "hello":
        # The same body as a single-event ingest; the hello app reads and drops it.
        return "POST", orjson.dumps(make_event(rng, phase, now)), []
    if phase.kind == "single":
        event = make_event(rng, phase, now)
        return "POST", orjson.dumps(event), [event]
    if phase.kind == "batch":
        events = [make_event(rng, phase, now) for _ in range(phase.batch_size)]
        return "POST", orjson.dumps({"events": events}), events
    return "GET", None, []


def _one(conn, phase: Phase, rng: random.Random, token: str, result: ClientResult, *, record):
    """Send one request on `conn` and read the answer; returns the connection to use next
    (a fresh one after a failure)."""
    method, body, events = _request(phase, rng, token)
    begin = time.perf_counter()
    try:
        status, payload = conn.request(method, phase.path, body, token)
    except (OSError, ValueError) as exc:
        conn.close()
        result.errors.append(f"{type(exc).__name__}: {exc}")
        result.receipts.extend((event["uuid"], "unacknowledged") for event in events)
        return Connection(phase.port)
    elapsed = time.perf_counter() - begin
    result.receipts.extend(_receipts(phase, status, payload, events))
    if record:
        result.latencies.append(elapsed)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        result.events_sent += len(events) if phase.kind != "get" else 0
        if status >= 400 and len(result.errors) < 20:
            result.errors.append(f"{status}: {payload[:300]!r}")
    return conn


class Connection:
    """A persistent HTTP/1.1 connection to 127.0.0.1:port (Content-Length or chunked)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.reader = None
        self.headers: dict[bytes, bytes] = {}  # of the last response, names lower-cased

    def request(self, method: str, path: str, body: bytes | None, token: str):
        if self.sock is None:
            self.sock = socket.create_connection((HOST, self.port), timeout=TIMEOUT_SECONDS)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.reader = self.sock.makefile("rb")
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
        if token:
            head += f"Authorization: Token {token}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + (body or b""))
        return self._response()

    def _response(self) -> tuple[int, bytes]:
        status_line = self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        while (line := self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            payload = self._chunked()
        else:
            payload = self.reader.read(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        self.headers = headers
        return status, payload

    def _chunked(self) -> bytes:
        parts = []
        while size := int(self.reader.readline().split(b";")[0], 16):
            parts.append(self.reader.read(size))
            self.reader.readline()
        self.reader.readline()
        return b"".join(parts)

    def close(self) -> None:
        if self.sock is not None:
            self.reader.close()
            self.sock.close()
        self.sock = self.reader = None


def _receipts(phase: Phase, status: int, payload: bytes, events: list) -> list[tuple[str, str]]:
    if not events or phase.kind == "hello":
        return []
    if phase.kind == "single":
        verdict = {201: "accepted", 200: "duplicate"}.get(status, "unacknowledged")
        if 400 <= status < 500:
            verdict = "rejected"
        return [(events[0]["uuid"], verdict)]
    if status >= 500 or not payload:
        return [(event["uuid"], "unacknowledged") for event in events]
    body = orjson.loads(payload)
    receipts = body.get("receipts") or []
    if len(receipts) != len(events):
        return [(event["uuid"], "rejected") for event in events]
    return [(event["uuid"], r["status"]) for event, r in zip(events, receipts, strict=True)]
