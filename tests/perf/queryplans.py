"""The plan of every query of the hot pages, on SQLite and PostgreSQL, and the check that none of them reads a
big table whole (issue 14).

`bench.py --explain` writes them for the bench database (SQLite, or the PostgreSQL database named by
DATABASE_URL) to tests/perf/plans/<vendor>.txt; tests/test_query_plans.py captures them at a small size on
the test database (SQLite, and PostgreSQL in CI's PostgreSQL run) and fails on a full scan.

Each query is explained as the page runs it, with its own parameters (a connection execute wrapper, so the
export's streamed chunks and the API's cursor queries are covered too), and queries that differ only in their
literal values are kept once per page.

What counts as a full scan of a big table:
- SQLite: an `EXPLAIN QUERY PLAN` line `SCAN <table>` without `USING ... INDEX` (the table read row by row;
  `SCAN t USING INDEX i` walks an index in order, which a LIMIT stops early, and a covering index is the
  cheapest whole count SQLite has).
- PostgreSQL: at a small size the planner rightly prefers a sequential scan of a few hundred rows, so the
  check plans each query again with `SET enable_seqscan = off`. A `Seq Scan` that remains means no index can
  serve the query at all: PostgreSQL only builds a full index scan when the index gives the order asked for or
  covers the columns, so without a usable index the sequential scan is the only path left. The saved plans
  are the planner's real ones, with its default settings.
A table is big when it has at least as many rows as cases_recommendation (its own included): the tables that
grow with the index (assessments, evidence, the link tables), whatever the size the check runs at.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

PLANS_DIR = Path(__file__).resolve().parent / "plans"
SEARCH_TERM = "torture"
FILTER = {"implementation_status": "not_implemented", "addressee": "state"}
PAGE_SIZE = 50


@dataclass
class Query:
    sql: str
    plan: list[str]
    scans: list[str] = field(default_factory=list)  # big tables read whole


@dataclass
class Page:
    name: str
    path: str
    status: int = 0
    queries: list[Query] = field(default_factory=list)


def qs(params: dict) -> str:
    return "?" + urllib.parse.urlencode(params) if params else ""


def hot_pages(people) -> list[tuple[str, object, str]]:
    """(name, client, path) of every hot page: the web pages a monitor and a curator use most, the public
    pages, the API."""
    from django.test import Client

    from cases.models import Document, Recommendation, Theme

    total = Recommendation.objects.count()
    middle = Recommendation.objects.order_by("id").values_list("code", flat=True)[total // 2]
    document = Document.objects.order_by("id").values_list("slug", flat=True).first()
    theme = Theme.objects.order_by("id").values_list("slug", flat=True).first()
    last = max(1, -(-total // PAGE_SIZE))

    def client(role: str | None = None, **kwargs):
        made = Client(SERVER_NAME="127.0.0.1", **kwargs)
        if role:
            made.cookies[people.session_cookie] = people.sessions[role]
        return made

    web, curator, public = client("monitor"), client("curator"), client()
    api = client(headers={"Authorization": f"Bearer {people.api_key}"})
    pages = [
        ("dashboard", web, "/"),
        ("list: unfiltered", web, "/recommendations/"),
        ("list: status + addressee filter", web, "/recommendations/" + qs(FILTER)),
        ("list: text search", web, "/recommendations/" + qs({"q": SEARCH_TERM})),
        ("list: last page", web, "/recommendations/" + qs({"page": last})),
        ("recommendation page", web, f"/recommendations/{middle}/"),
        ("review queue", curator, "/review/"),
        ("assessments browser", web, "/assessments/"),
        ("people list", web, "/people/"),
        ("public: home", public, "/public/"),
        ("public: recommendation", public, f"/public/recommendations/{middle}/"),
        ("public: search", public, "/public/search/" + qs({"q": SEARCH_TERM})),
        ("API list: first page", api, "/api/v1/recommendations/"),
        ("API list: filtered", api, "/api/v1/recommendations/" + qs(FILTER)),
        ("API detail", api, f"/api/v1/recommendations/{middle}/"),
        ("API export: CSV, all rows", api, "/api/v1/export/recommendations.csv"),
    ]
    if document:
        pages.insert(11, ("public: document", public, f"/public/documents/{document}/"))
    if theme:
        pages.insert(12, ("public: theme", public, f"/public/themes/{theme}/"))
    return pages


# --- capturing ------------------------------------------------------------------------------------------

LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def shape(sql: str) -> str:
    return LITERALS.sub("?", sql)


class Explainer:
    """A connection execute wrapper: every SELECT is explained (on a cursor of its own) before it runs."""

    def __init__(self, connection, big: set[str]):
        self.connection, self.big = connection, big
        self.busy = threading.local()
        self.queries: list[Query] = []
        self.seen: set[str] = set()

    def __call__(self, execute, sql, params, many, context):
        if (
            not many
            and not getattr(self.busy, "on", False)
            and sql.lstrip().upper().startswith(("SELECT", "WITH"))
        ):
            key = shape(sql)
            if key not in self.seen:
                self.seen.add(key)
                self.busy.on = True
                try:
                    self.queries.append(self.explain(sql, params))
                finally:
                    self.busy.on = False
        return execute(sql, params, many, context)

    def explain(self, sql: str, params) -> Query:
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                rows = cursor.fetchall()
                plan = sqlite_tree(rows)
                scans = sqlite_full_scans([r[-1] for r in rows], sql, self.big)
            else:
                cursor.execute("EXPLAIN " + sql, params)
                plan = [r[0] for r in cursor.fetchall()]
                cursor.execute("SET enable_seqscan = off")
                try:
                    cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                    tree = cursor.fetchone()[0]
                finally:
                    cursor.execute("RESET enable_seqscan")
                if isinstance(tree, str):
                    tree = json.loads(tree)
                scans = postgresql_seq_scans(tree[0]["Plan"], self.big)
        return Query(sql, plan, scans)


def sqlite_tree(rows) -> list[str]:
    """EXPLAIN QUERY PLAN rows (id, parent, notused, detail) indented as the sqlite3 shell shows them."""
    depth = {0: -1}
    lines = []
    for row in rows:
        node, parent, detail = row[0], row[1], row[-1]
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return lines


ALIAS = re.compile(r'"(\w+)"\s+(?:AS\s+)?"?([A-Za-z]\w*)"?(?=\s|,|\)|$)')
SQLITE_SCAN = re.compile(r"^SCAN (\S+)(?: AS \S+)?$")


def sqlite_full_scans(details: list[str], sql: str, big: set[str]) -> list[str]:
    aliases = {alias: table for table, alias in ALIAS.findall(sql) if alias.upper() not in KEYWORDS}
    found = []
    for detail in details:
        match = SQLITE_SCAN.match(str(detail).strip())
        if match:
            table = aliases.get(match.group(1), match.group(1))
            if table in big:
                found.append(f"{detail} ({table}: no index)")
    return found


KEYWORDS = {"ON", "WHERE", "INNER", "LEFT", "JOIN", "ORDER", "GROUP", "LIMIT", "AND", "OR", "AS", "USING"}


def postgresql_seq_scans(node: dict, big: set[str]) -> list[str]:
    found = []
    if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in big:
        condition = node.get("Filter", "no filter")
        found.append(f"Seq Scan on {node['Relation Name']} ({condition})")
    for child in node.get("Plans", []):
        found += postgresql_seq_scans(child, big)
    return found


def big_tables() -> set[str]:
    """Tables with at least as many rows as cases_recommendation (estimates on PostgreSQL after ANALYZE would
    lag behind a test's inserts: exact counts, each one query)."""
    from django.db import connection

    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        cursor.execute("SELECT COUNT(*) FROM cases_recommendation")
        threshold = max(1, cursor.fetchone()[0])
        big = set()
        for table in tables:
            if not table.startswith(("cases_", "tracker_")):
                continue
            cursor.execute(f'SELECT COUNT(*) FROM (SELECT 1 FROM "{table}" LIMIT {threshold}) t')  # noqa: S608
            if cursor.fetchone()[0] >= threshold:
                big.add(table)
    return big


def capture(people) -> tuple[list[Page], set[str]]:
    """Request every hot page twice (the first warms caches up) and explain the queries of the second."""
    from django.db import connection
    from django.test import override_settings

    big = big_tables()
    pages = []
    with override_settings(PUBLIC_SITE=True):  # the public pages answer 404 while the site is off
        for name, client, path in hot_pages(people):
            consume(client.get(path))
            explainer = Explainer(connection, big)
            with connection.execute_wrapper(explainer):
                response = client.get(path)
                consume(response)
            pages.append(Page(name, path, response.status_code, explainer.queries))
    return pages, big


def consume(response) -> None:
    if getattr(response, "streaming", False):
        for _chunk in response.streaming_content:
            pass


# Full scans known and accepted for now, each with its reason: (page, the query's beginning, why).
KNOWN = [
    (
        "assessments browser",
        'SELECT COUNT(*) AS "__count" FROM "cases_assessment" WHERE',
        "the page's total counts every assessment the viewer may see (published, or their organisation's): "
        "most of the table whatever the index, so SQLite reads it whole; PostgreSQL takes a BitmapOr of the "
        "two indexes. What would close it: the list's total as an estimate past a threshold (issue 14)",
    ),
]


def known(page: Page, query: Query) -> str | None:
    for name, start, why in KNOWN:
        if page.name == name and query.sql.startswith(start):
            return why
    return None


def full_scans(pages: list[Page], include_known: bool = False) -> list[str]:
    """'page (path): scan' for every full scan of a big table, the known ones (KNOWN) left out unless asked."""
    return [
        f"{page.name} ({page.path}): {scan}"
        for page in pages
        for q in page.queries
        if include_known or not known(page, q)
        for scan in q.scans
    ]


def render(pages: list[Page], big: set[str], heading: str) -> str:
    from django.db import connection

    vendor = connection.vendor
    check = (
        "SCAN <big table> without an index"
        if vendor == "sqlite"
        else "Seq Scan on a big table with enable_seqscan = off"
    )
    lines = [
        heading,
        f"Big tables (at least as many rows as cases_recommendation): {', '.join(sorted(big))}",
        f"Full scans ({check}): {len(full_scans(pages))}",
        *("  " + s for s in full_scans(pages)),
        f"Known full scans, accepted for now (queryplans.KNOWN): {len(full_scans(pages, include_known=True)) - len(full_scans(pages))}",
        *(f"  {name}: {why}" for name, _start, why in KNOWN),
        "",
    ]
    for page in pages:
        lines.append(
            f"=== {page.name}: GET {page.path} -> HTTP {page.status}, {len(page.queries)} distinct SELECTs"
        )
        for query in page.queries:
            lines.append("--- " + (query.sql if len(query.sql) <= 2000 else query.sql[:2000] + " …"))
            lines += ["    " + line for line in query.plan]
            label = "known full scan" if known(page, query) else "!!! FULL SCAN"
            lines += [f"    {label}: {s}" for s in query.scans]
        lines.append("")
    return "\n".join(lines)


def write(pages: list[Page], big: set[str], heading: str, directory: Path = PLANS_DIR) -> Path:
    from django.db import connection

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{connection.vendor}.txt"
    path.write_text(render(pages, big, heading) + "\n")
    return path
