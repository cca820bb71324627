"""The chaos test's verdicts catch what they must (fast: no server, no database)."""

from collections import Counter

from bench import chaos
from bench.chaos_check import check
from bench.chaos_clients import ClientLog, Sent

A, B, C = (f"00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
HOUR = "2026-11-25T10"


def client_log(*receipts: tuple[str, str, bool]) -> ClientLog:
    log = ClientLog()
    log.sent = {u: Sent(1, "view", HOUR, 2) for u in (A, B, C)}
    log.receipts = list(receipts)
    return log


def rows(*uuids: str) -> list:
    return [(1, u, "view", HOUR, 2) for u in uuids]


def test_a_clean_run_counts_nothing_wrong():
    log = client_log((A, "accepted", False), (B, "accepted", False), (C, "duplicate", False))
    counts = check([log], rows(A, B, C), Counter({(1, "view", HOUR): 6}))
    bad = {name: counts[name] for name in chaos.MUST_BE_ZERO if counts.get(name)}
    assert bad == {}
    assert counts["acknowledged events"] == 3


def test_loss_doubles_and_drift_are_counted():
    log = client_log(
        (A, "accepted", False),
        (A, "accepted", True),  # a replay accepted again
        (B, "accepted", False),  # acknowledged, never stored
    )  # C: no receipt at all
    counts = check([log], rows(A, A, C), Counter({(1, "view", HOUR): 2}))
    assert counts["uuids stored twice"] == 1
    assert counts["uuids accepted twice"] == 1
    assert counts["replayed items not duplicate"] == 1
    assert counts["acknowledged but not stored"] == 1
    assert counts["events never acknowledged"] == 1
    assert counts["unacknowledged but stored"] == 1
    assert counts["rollup drift vs raw recount"] == 1


def test_sqlite_fails_on_a_500_or_a_locked_database():
    result = chaos.Result(database="sqlite", bounds=chaos.Bounds())
    result.answers = {"200": 10, "500": 1, "503": 2}
    result.server_log = {"database is locked": 1}
    chaos._judge(result)
    assert not result.ok
    assert any("500" in failure for failure in result.failures)
    assert any("database is locked" in failure for failure in result.failures)


def test_postgresql_allows_5xx_only_during_the_outage():
    result = chaos.Result(database="postgresql", bounds=chaos.Bounds(), outage=(10.0, 12.0))
    result.server_errors_at = [10.5, 12.1, 14.0, 30.0]
    chaos._judge(result)
    assert result.counts["5xx outside the database outage"] == 1
    assert not result.ok
