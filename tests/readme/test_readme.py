"""The README runs as written: its shell blocks, from the walk-through to the end of the
admin section, pasted in order into one bash session against a fresh server, answer what
the README shows. A command followed by a status line (`# 404 {…}`) must get exactly that
status; any other request must get a 2xx. The blocks before and after that part are the
operator's (`make`, docker, the production settings) and are not pasted.
"""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eventtracker.tests.live_server import BASE_DIR, live_env, live_gunicorn

README = BASE_DIR / "README.md"
SESSION = ("## Walk-through", "## Running in production")
BLOCK = re.compile(r"^(?P<indent> *)```sh\n(?P<body>.*?)^(?P=indent)```", re.MULTILINE | re.DOTALL)
STATUS = re.compile(r"^# (\d{3})\b")

# Every curl of the session reports its status on stderr and fails the session when the
# status is not the expected one: a 2xx, or the one `expect` names for the next request.
PREAMBLE = r"""
shopt -s inherit_errexit
EXPECTED=
expect() { EXPECTED=$1; }
curl() {
  local want=${EXPECTED:-2xx} headers code
  EXPECTED=
  headers=$(mktemp)
  command curl --silent --show-error --dump-header "$headers" "$@"
  code=$(awk '/^HTTP\//{c=$2} END{print c}' "$headers")
  rm -f "$headers"
  echo
  echo "$code curl $*" >&2
  if [[ ($want == 2xx && $code != 2??) || ($want != 2xx && $code != "$want") ]]; then
    echo "README: the answer was $code where $want was expected" >&2
    return 1
  fi
}
"""


def session() -> str:
    """The README's shell blocks from the walk-through to the production section."""
    text = README.read_text()
    start, end = (text.index(heading) for heading in SESSION)
    blocks = BLOCK.finditer(text, start, end)
    return "\n".join(textwrap.dedent(match["body"]) for match in blocks)


def commands(script: str) -> list[tuple[int, int]]:
    """(first line, last line) of each command: backslash continuations and
    single-quoted strings over several lines belong to the command that opened them."""
    spans, first, quotes = [], None, 0
    for number, line in enumerate(script.splitlines()):
        if first is None:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            first, quotes = number, 0
        code = line if quotes % 2 else line.split("  # ")[0]  # a trailing comment
        quotes += code.count("'")
        if quotes % 2 == 0 and not line.endswith("\\"):
            spans.append((first, number))
            first = None
    assert first is None, f"an unterminated command at line {first}"
    return spans


def with_expected_statuses(script: str) -> str:
    """The script with `expect <status>` before each command whose next line shows one."""
    lines = script.splitlines()
    expected = {}
    for first, last in commands(script):
        status = STATUS.match(lines[last + 1]) if last + 1 < len(lines) else None
        if status:
            expected[first] = status[1]
    return "\n".join(
        (f"expect {expected[number]}\n" if number in expected else "") + line
        for number, line in enumerate(lines)
    )


def test_the_walkthrough_has_its_steps_in_order():
    text = README.read_text()
    walkthrough = BLOCK.search(text, text.index(SESSION[0]))["body"]
    steps = [int(n) for n in re.findall(r"^# (\d+)\. ", walkthrough, re.MULTILINE)]

    assert steps == list(range(1, len(steps) + 1))


def anchor(heading: str) -> str:
    """The fragment a Markdown renderer gives a heading (GitHub's rule)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_of_the_readme_leads_somewhere_in_the_repository():
    text = README.read_text()
    anchors = {anchor(h) for h in re.findall(r"^#+ (.*)$", text, re.MULTILINE)}
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    fragments = [t[1:] for t in targets if t.startswith("#")]
    files = [t for t in targets if not t.startswith(("#", "http://127.0.0.1", "http://localhost"))]

    assert fragments
    assert [f for f in fragments if f not in anchors] == []
    assert [f for f in files if "://" in f or not (BASE_DIR / f.split("#")[0]).exists()] == []


def test_a_shown_status_applies_to_the_whole_command_above_it():
    script = "curl -X POST $B/a \\\n  -d '{\n  \"a\": 1}'\n# 400 {}\ncurl $B/b\n# 200 ok\n"

    assert with_expected_statuses(script).splitlines() == [
        "expect 400",
        "curl -X POST $B/a \\",
        "  -d '{",
        '  "a": 1}\'',
        "# 400 {}",
        "expect 200",
        "curl $B/b",
        "# 200 ok",
    ]


@pytest.mark.skipif(shutil.which("bash") is None, reason="the README is a bash session")
def test_the_readme_runs_as_written_against_a_fresh_server(tmp_path):
    script = session()
    assert script.startswith("B=http://127.0.0.1:8000\n")
    # The README's commands run from the repository (`.venv/bin/python manage.py …`); the
    # files they write (charts) land in a scratch directory that looks like it.
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    (workdir / "manage.py").symlink_to(BASE_DIR / "manage.py")
    (workdir / ".venv").symlink_to(Path(sys.executable).parent.parent)

    with live_gunicorn(tmp_path, workers=1) as base:
        pasted = PREAMBLE + with_expected_statuses(script.replace("127.0.0.1:8000", base[7:], 1))
        result = subprocess.run(  # noqa: S603 - bash running the README's own blocks
            [shutil.which("bash"), "-euo", "pipefail", "-c", pasted],
            cwd=workdir,
            env=live_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    answers = result.stdout.replace(" ", "")
    assert '"accepted":2,"duplicate":1,"rejected":1' in answers  # the batch example
    assert (workdir / "trend.png").read_bytes().startswith(b"\x89PNG")
