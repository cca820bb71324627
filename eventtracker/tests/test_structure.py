"""The layout rules of the README's Development section, checked over the source with `ast`.

1. Imports point one way: `core ← accounts ← events ← stats ← insights ← webimports ←
   webstats`, with `people`, `v1`, `web` and `platform_admin` on top and `eventtracker/`
   (wiring) above everything. A module importing an app above its own fails, lazy imports
   inside functions included.
2. Only `accounts/tenancy.py` filters by tenant: a `tenant=` / `tenant_id__in=` … keyword
   in a `filter()`, `exclude()`, `get()` or `Q()` anywhere else fails. Code without a
   request scopes through tenancy's named entry points instead.
"""

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# App → the apps of ours it may import. An app not listed here may not be imported at all.
ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "accounts": frozenset({"core"}),
    "events": frozenset({"core", "accounts"}),
    "stats": frozenset({"core", "accounts", "events"}),
    "insights": frozenset({"core", "accounts", "events", "stats"}),
    "webimports": frozenset({"core", "accounts", "events", "insights"}),
    "webstats": frozenset({"core", "accounts", "events", "stats", "insights", "webimports"}),
    "people": frozenset({"core", "accounts", "events", "stats"}),
    "platform_admin": frozenset({"core", "accounts", "events", "stats"}),
    "v1": frozenset({"core", "accounts", "events", "stats"}),
    "web": frozenset(
        {"core", "accounts", "events", "stats", "insights", "webimports", "webstats", "people"}
    ),
}
WIRING = "eventtracker"
OURS = frozenset(ALLOWED_IMPORTS) | {WIRING}

TENANCY_MODULE = Path("accounts/tenancy.py")
FILTER_METHODS = frozenset({"filter", "exclude", "get", "get_or_create", "update_or_create"})


def source_files(app: str) -> Iterator[Path]:
    """The app's own code: not its tests, not its migrations (generated)."""
    for path in sorted((BASE_DIR / app).rglob("*.py")):
        relative = path.relative_to(BASE_DIR)
        if "tests" not in relative.parts and "migrations" not in relative.parts:
            yield relative


def imported_apps(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """(app of ours, line) for every import in `tree`, nested ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top in OURS:
                yield top, node.lineno


def upward_imports(app: str) -> list[str]:
    allowed = ALLOWED_IMPORTS[app] | {app}
    return [
        f"{path}:{line} imports {imported}"
        for path in source_files(app)
        for imported, line in imported_apps(ast.parse((BASE_DIR / path).read_text()))
        if imported not in allowed
    ]


def tenant_filters(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, keyword) of each hand-written tenant filter in `tree`."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_filter_call(node.func):
            continue
        for keyword in node.keywords:
            for name in _keyword_names(keyword):
                if name.split("__")[0] in {"tenant", "tenant_id"}:
                    yield node.lineno, name


def _is_filter_call(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "Q"
    return isinstance(func, ast.Attribute) and func.attr in FILTER_METHODS


def _keyword_names(keyword: ast.keyword) -> list[str]:
    """The keyword's name, or the string keys of a `**{...}` literal."""
    if keyword.arg is not None:
        return [keyword.arg]
    if isinstance(keyword.value, ast.Dict):
        return [k.value for k in keyword.value.keys if isinstance(k, ast.Constant)]
    return []


@pytest.mark.parametrize("app", sorted(ALLOWED_IMPORTS))
def test_apps_import_only_apps_below_them(app):
    assert upward_imports(app) == []


def test_every_app_of_ours_is_in_the_table():
    packages = {path.parent.name for path in BASE_DIR.glob("*/apps.py")}
    assert packages <= OURS
    assert packages - {WIRING} == set(ALLOWED_IMPORTS)


def test_the_import_check_sees_lazy_and_dotted_imports():
    tree = ast.parse("def f():\n    from stats.jobs import x\n\nimport web.views\n")

    assert sorted(imported_apps(tree)) == [("stats", 2), ("web", 4)]


def test_only_tenancy_filters_by_tenant():
    found = [
        f"{path}:{line} filters on {name}"
        for app in sorted(OURS)
        for path in source_files(app)
        if path != TENANCY_MODULE
        for line, name in tenant_filters(ast.parse((BASE_DIR / path).read_text()))
    ]

    assert found == [], "scope through accounts.tenancy instead"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("Event.objects.filter(tenant=t)", [(1, "tenant")]),
        ("qs.exclude(tenant_id__in=ids)", [(1, "tenant_id__in")]),
        ("Q(tenant__slug='x') | Q(name='y')", [(1, "tenant__slug")]),
        ("qs.filter(**{'tenant_id': OuterRef('pk')})", [(1, "tenant_id")]),
        ("Event(tenant=t).save()", []),  # stamping a new row is not filtering
        ("qs.filter(name='x', tenantish=1)", []),
    ],
)
def test_the_tenant_filter_check_flags_hand_written_filters(code, expected):
    assert list(tenant_filters(ast.parse(code))) == expected


def test_every_tests_folder_is_collected():
    """pytest collects only `testpaths`: an app's tests left out of it would never run."""
    config = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())
    collected = set(config["tool"]["pytest"]["ini_options"]["testpaths"])
    folders = {path.parent.name for path in BASE_DIR.glob("*/tests") if path.is_dir()}

    assert folders - collected == set()
    assert "tests" in collected  # the top-level folder (browser, README, schema, chaos)
