"""Status names are spelled once, in zapx/status.py: a string literal equal to one, or SQL text
naming one in quotes (``status = 'sent'``), anywhere else in zapx/, actors/ or api/ fails here.
Docstrings and log messages may name them."""

import ast
import pathlib

import pytest

from zapx import status

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("zapx", "actors", "api")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}

#: (file, literal) that equal a status name but are another thing, with the reason.
NOT_STATUSES = {
    ("api/roles.py", "read"): "the permission to read (GET)",
    ("zapx/login_limits.py", "unknown"): "the client address when there is none",
    ("zapx/providers/base.py", "sent"): "the provider outcome SENT, defined there once",
    ("zapx/cli.py", "pending"): "a migration not applied yet",
    ("zapx/connections.py", "qrcode"): "the connection's QR code field the frontend reads",
    ("zapx/campaigns/service.py", "sent"): "the report's count, read for the socket record's rate",
    ("zapx/ops.py", "sent"): "the report's count of rows sent or later, read and passed on",
    ("actors/metrics.py", "failed"): "a Dramatiq message's outcome label (retries spent)",
    ("zapx/metrics/_record.py", "sent"): "the outcome label of zapx_messages_total",
    ("zapx/metrics/_record.py", "failed"): "the outcome label of zapx_messages_total",
    ("zapx/metrics/_record.py", "unknown"): "the outcome label of zapx_messages_total",
}
#: (file, literal) that may be a key of a dict display (an API field named like a status).
FIELD_NAMES = {
    ("api/schemas.py", "qrcode"): "the connection's QR code field",
    ("zapx/campaigns/report.py", "sent"): "the report's count of rows sent or later",
    ("zapx/campaigns/report.py", "delivered"): "the report's count of rows delivered or read",
    ("zapx/ops.py", "failed"): "a live campaign's count of failed rows",
    ("zapx/ops.py", "unknown"): "a live campaign's count of rows whose outcome is unknown",
    ("api/schemas.py", "sent"): "the ops page's campaign counts",
    ("api/schemas.py", "failed"): "the ops page's campaign counts",
    ("api/schemas.py", "unknown"): "the ops page's campaign counts",
}


def _skipped(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings, log messages or ``__all__``."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            skip.update(id(n) for n in ast.walk(node.value))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))  # a docstring, or a bare string used as one
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOG_METHODS
            and node.args
        ):
            message = (
                node.args[1] if node.func.attr == "log" and len(node.args) > 1 else node.args[0]
            )
            skip.update(id(n) for n in ast.walk(message))
    return skip


def spelled(path: pathlib.Path) -> list[tuple[int, str, bool]]:
    """(line, status name, is a dict display's key) of each status spelled in ``path`` outside
    docstrings, log messages and ``__all__``."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _skipped(tree)
    keys = {id(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys if k}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in skip:
            continue
        if node.value in status.NAMES:
            found.append((node.lineno, node.value, id(node) in keys))
        found.extend((node.lineno, n, False) for n in status.NAMES if f"'{n}'" in node.value)
    return found


def sources() -> list[pathlib.Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_status_is_spelled_outside_zapx_status():
    found = []
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel == "zapx/status.py":
            continue
        for line, name, key in spelled(path):
            if (rel, name) in NOT_STATUSES or (key and (rel, name) in FIELD_NAMES):
                continue
            found.append(f"{rel}:{line}: {name!r}")
    assert found == [], "use zapx.status (status.sql for SQL text):\n" + "\n".join(found)


def test_the_exceptions_are_still_there():
    """An entry of NOT_STATUSES or FIELD_NAMES whose literal is gone goes too, so the lists
    stay short."""
    present = {
        (path.relative_to(ROOT).as_posix(), name)
        for path in sources()
        for _, name, _ in spelled(path)
    }
    assert set(NOT_STATUSES) | set(FIELD_NAMES) <= present


def test_the_check_finds_a_literal_and_sql_text(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Docstring: PAUSADA is fine here."""\n'
        "import logging\n"
        "log = logging.getLogger()\n"
        'log.info("EM_ANDAMENTO")\n'
        'if row.status == "FINALIZADA":\n'
        "    sql = \"UPDATE campaign_shipping SET status = 'pending'\"\n"
    )
    assert sorted(spelled(sample)) == [(5, "FINALIZADA", False), (6, "pending", False)]


@pytest.mark.parametrize("bad", [(), ("sent", "nope")])
def test_sql_takes_only_status_names(bad):
    with pytest.raises(ValueError):
        status.sql(*bad)


def test_sql_quotes_names():
    assert status.sql(status.RowStatus.SENT, status.RowStatus.UNKNOWN) == "'sent', 'unknown'"
