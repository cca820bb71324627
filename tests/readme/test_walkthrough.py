"""The README's sessions run as written: the walk-through's shell block, then the batch
example's, pasted into one bash session against a fresh server, get a 2xx for every
request (curl fails the script on anything else), and the answers the README shows.
"""

import re
import shutil
import subprocess

import pytest

from eventtracker.tests.live_server import BASE_DIR, live_gunicorn

README = BASE_DIR / "README.md"
# Every curl of the block fails the script on a non-2xx answer (and says which).
STRICT_CURL = 'curl() { command curl --silent --show-error --fail-with-body "$@"; echo; }\n'


def block(heading: str) -> str:
    """The first shell block after `heading`."""
    text = README.read_text()
    section = text[text.index(heading) :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, f"{heading} has a shell block"
    return match.group(1)


def walkthrough() -> str:
    return block("## Walk-through")


def test_the_walkthrough_has_its_steps_in_order():
    steps = [int(n) for n in re.findall(r"^# (\d+)\. ", walkthrough(), re.MULTILINE)]

    assert steps == list(range(1, len(steps) + 1))


@pytest.mark.skipif(shutil.which("bash") is None, reason="the walk-through is a bash session")
def test_the_walkthrough_runs_as_written_against_a_fresh_server(tmp_path):
    script = walkthrough()
    assert script.startswith("B=http://127.0.0.1:8000\n")

    batch = block("### Batches with receipts")
    with live_gunicorn(tmp_path, workers=1) as base:
        session = script.replace("B=http://127.0.0.1:8000", f"B={base}", 1) + batch
        pasted = STRICT_CURL + session
        result = subprocess.run(  # noqa: S603 - bash running the README's own block
            [shutil.which("bash"), "-euo", "pipefail", "-c", pasted],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    answers = result.stdout.replace(" ", "")
    assert '"event_name":"test","total":1' in answers
    assert '"accepted":2,"duplicate":1,"rejected":1' in answers  # the batch example
