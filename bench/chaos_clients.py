"""The chaos load: concurrent clients that retry every batch, with the same uuids, until
it has its receipts.

Each client is a thread (the work is waiting on sockets) with its own persistent
connection (bench.loadgen.Connection) and its own seeded random sequence of batches.
A batch is sent again with the same body after a connection error, an unreadable
answer, a 5xx or a 429: after the Retry-After the server asked for (capped), else
after a capped exponential backoff with jitter; until its receipts arrive or the
give-up time passes. A few uuids of every batch are shared by all clients of a tenant
(concurrent writers of the same uuid), and every Nth batch is sent once more after
its receipts, as an SDK that missed the answer would: both must come back `duplicate`.
"""

import datetime as dt
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import orjson

from bench.loadgen import Connection

PATH = "/api/eventlogs/batch/"
EVENT_NAMES = ("chaos_view", "chaos_click", "chaos_signup", "chaos_buy", "chaos_share")
BACKOFF_FIRST = 0.05
BACKOFF_CAP = 1.0
RETRY_AFTER_CAP = 5.0
RETRIED = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Load:
    """What every client sends; the same seed sends the same events."""

    clients: int
    batches: int
    batch_size: int
    shared: int  # uuids per batch shared by the clients of one tenant
    replay_every: int  # every Nth batch is sent again after its receipts; 0: never
    seed: int
    give_up_seconds: float
    hours: int = 6  # event timestamps spread over this many hours before the run


@dataclass(frozen=True, slots=True)
class Sent:
    """One event as the client sent it: enough to recount the rollup client-side."""

    tenant_id: int
    name: str
    hour: str  # UTC, "YYYY-MM-DDTHH"
    count: int


@dataclass(slots=True)
class ClientLog:
    """Everything one client saw; read by the fault controller while it runs."""

    sent: dict[str, Sent] = field(default_factory=dict)
    # (uuid, receipt status or "unacknowledged", sent as a replay)
    receipts: list[tuple[str, str, bool]] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)  # "200", "no answer: …"
    problems: list[str] = field(default_factory=list)
    server_errors_at: list[float] = field(default_factory=list)  # time.monotonic() of 5xx
    requests: int = 0
    retries: int = 0
    items_transmitted: int = 0
    batches_done: int = 0
    given_up: int = 0
    in_flight: bool = False


def start_clients(
    load: Load, *, port: int, tenants: list[tuple[int, str]], origin: dt.datetime
) -> tuple[list[threading.Thread], list[ClientLog]]:
    """Start one thread per client; client i writes as tenants[i % len(tenants)]."""
    logs = [ClientLog() for _ in range(load.clients)]
    threads = [
        threading.Thread(
            target=Client(load, index, port, tenants, origin, logs[index]).run,
            name=f"chaos-client-{index}",
            daemon=True,
        )
        for index in range(load.clients)
    ]
    for thread in threads:
        thread.start()
    return threads, logs


def make_event(rng: random.Random, *, origin: dt.datetime, hours: int) -> dict:
    moment = origin + dt.timedelta(seconds=rng.randrange(hours * 3600))
    return {
        "event_name": rng.choice(EVENT_NAMES),
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": moment.isoformat(),
        "distinct_id": f"user-{rng.randrange(200)}",
        "count": rng.choice((1, 1, 1, 2, 5)),
        "data": {"plan": rng.choice(("free", "pro")), "n": rng.randrange(100)},
    }


class Client:
    def __init__(self, load: Load, index: int, port: int, tenants, origin, log: ClientLog):
        self.load, self.port, self.origin, self.log = load, port, origin, log
        self.slot = index % len(tenants)
        self.tenant_id, self.token = tenants[self.slot]
        # Non-cryptographic, seeded: the same run sends the same events.
        self.rng = random.Random(f"{load.seed}-client-{index}")  # noqa: S311
        # Jitter apart, so that retries never shift the events of later batches.
        self.jitter = random.Random(f"{load.seed}-jitter-{index}")  # noqa: S311
        self.conn = Connection(port)

    def run(self) -> None:
        try:
            for number in range(self.load.batches):
                self.send_batch(number)
                self.log.batches_done += 1
        except Exception as exc:  # reported as a failure of the run, never swallowed
            self.log.problems.append(f"client crashed: {type(exc).__name__}: {exc}")
        finally:
            self.conn.close()

    def send_batch(self, number: int) -> None:
        events = self.batch(number)
        body = orjson.dumps({"events": events})
        uuids = [event["uuid"] for event in events]
        for event in events:
            moment = dt.datetime.fromisoformat(event["timestamp"])
            self.log.sent[event["uuid"]] = Sent(
                self.tenant_id, event["event_name"], f"{moment:%Y-%m-%dT%H}", event["count"]
            )
        self.log.receipts.extend((u, s, False) for u, s in self.deliver(body, uuids))
        if self.load.replay_every and (number + 1) % self.load.replay_every == 0:
            self.log.receipts.extend((u, s, True) for u, s in self.deliver(body, uuids))

    def batch(self, number: int) -> list[dict]:
        """Own events from this client's sequence, plus the tenant's shared ones for
        this batch number (the same uuids and content in every client of the tenant)."""
        hours, origin = self.load.hours, self.origin
        own = [
            make_event(self.rng, origin=origin, hours=hours)
            for _ in range(self.load.batch_size - self.load.shared)
        ]
        shared = [
            make_event(
                random.Random(f"{self.load.seed}-tenant-{self.slot}-{number}-{k}"),  # noqa: S311
                origin=origin,
                hours=hours,
            )
            for k in range(self.load.shared)
        ]
        events = own + shared
        self.rng.shuffle(events)
        return events

    def deliver(self, body: bytes, uuids: list[str]) -> list[tuple[str, str]]:
        """Send until the receipts arrive (or give up): one (uuid, status) per item."""
        deadline = time.monotonic() + self.load.give_up_seconds
        attempt = 0
        while True:
            self.log.items_transmitted += len(uuids)
            status, payload = self.attempt(body)
            receipts = self.receipts(status, payload, uuids)
            if receipts is not None:
                return receipts
            if time.monotonic() > deadline:
                self.log.given_up += 1
                return [(u, "unacknowledged") for u in uuids]
            self.log.retries += 1
            time.sleep(self.pause(attempt, status))
            attempt += 1

    def attempt(self, body: bytes) -> tuple[int | None, bytes]:
        """One request; status None when no (whole) answer came back."""
        self.log.requests += 1
        self.log.in_flight = True
        try:
            status, payload = self.conn.request("POST", PATH, body, self.token)
        except (OSError, ValueError) as exc:
            self.conn.close()
            self.conn = Connection(self.port)
            self.log.answers[f"no answer ({type(exc).__name__})"] += 1
            return None, b""
        finally:
            self.log.in_flight = False
        label = str(status)
        if status >= 500:
            self.log.server_errors_at.append(time.monotonic())
        if status == 503 and b"retry-after" not in self.conn.headers:
            label = "503 without Retry-After"
        self.log.answers[label] += 1
        return status, payload

    def receipts(self, status: int | None, payload: bytes, uuids: list[str]):
        """The receipts of a final answer, or None to retry."""
        if status is None or status in RETRIED:
            return None
        try:
            items = orjson.loads(payload)["receipts"]
        except (ValueError, KeyError, TypeError):
            if status == 200:  # a cut-off body: the batch may be stored; ask again
                self.log.answers["200 unreadable"] += 1
                return None
            self.problem(f"answer {status} without receipts: {payload[:200]!r}")
            return [(u, f"refused {status}") for u in uuids]
        sent_back = [item.get("uuid") for item in items]
        if sent_back != uuids:
            self.problem(f"answer {status}: receipts do not match the batch's uuids")
        return [(u, str(item.get("status"))) for u, item in zip(uuids, items, strict=False)]

    def pause(self, attempt: int, status: int | None) -> float:
        retry_after = self.conn.headers.get(b"retry-after") if status in (429, 503) else None
        if retry_after is not None:
            try:
                return min(float(retry_after), RETRY_AFTER_CAP)
            except ValueError:
                self.problem(f"unreadable Retry-After: {retry_after!r}")
        backoff = min(BACKOFF_FIRST * 2**attempt, BACKOFF_CAP)
        return backoff * (0.5 + self.jitter.random() / 2)

    def problem(self, message: str) -> None:
        if len(self.log.problems) < 20:
            self.log.problems.append(message)
