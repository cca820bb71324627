"""No event lost, none stored twice, under load and faults (bench/chaos.py).

Gunicorn with 2 workers, 4 concurrent clients retrying with their uuids, two worker
kill -9s, and on PostgreSQL a kill -9 of the postmaster. Each run uses its own
PostgreSQL cluster and SQLite file, never the test database, so the result does not
depend on DATABASE_URL: `make test` runs it once, in the pass without DATABASE_URL
(`make chaos`), and the parallel suite leaves it out (`-m "not chaos"`).
"""

import pytest

from bench import chaos

pytestmark = pytest.mark.chaos

# Small and fixed: about 10-20 s per database on a 2-core machine.
BOUNDS = chaos.Bounds(
    clients=4, batches=60, batch_size=50, workers=2, worker_kills=2, seed=20261125
)


@pytest.mark.parametrize("database", chaos.DATABASES)
def test_no_event_lost_or_stored_twice_under_faults(database, tmp_path):
    result = chaos.run_database(database, BOUNDS, workdir=tmp_path)
    table = chaos.render([result])
    print(table)  # shown with -s, or with the failure
    assert result.ok, f"{table}\n\nserver log: {tmp_path / 'gunicorn.log'}"
    expected_faults = BOUNDS.worker_kills + (database == "postgresql")
    assert len(result.faults) == expected_faults, result.faults
