"""What an import holds between reading the file and writing it, on disk instead of in memory.

A file of 250,000 UHRI records folded into 250,000 `Candidate` objects held 800 MB until it was applied. The
preview now keeps, in memory, only what does not grow with the file (counts, the first rejections, the
unknown values, a sample) and the documents (one per hundred or so records); the recommendations live in a
private temporary SQLite file:

- `folded`: each recommendation as the file describes it (long-format rows merged), keyed by its fold key,
  with its document's position in the file and its first row, so the matching reads one document at a time;
- `planned`: each recommendation after matching (create, update, unchanged, reject), in the order the
  batches write them; `pending` marks those with something to write;
- `rejected`: every rejected row (the preview keeps the first ones; the report CSV has them all);
- `codes`: the codes given to new recommendations so far (two documents never get the same code).

The file is deleted when the preview is closed or dropped (`Preview.close`, or garbage collection).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_decode = json.JSONDecoder().decode

_SCHEMA = """
CREATE TABLE folded (key TEXT PRIMARY KEY, doc INTEGER NOT NULL, first_row INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX folded_doc ON folded (doc, first_row);
CREATE TABLE planned (seq INTEGER PRIMARY KEY, pending INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE rejected (seq INTEGER PRIMARY KEY, row INTEGER NOT NULL, col TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE codes (code TEXT PRIMARY KEY);
"""


class Store:
    def __init__(self, directory: str | None = None):
        fd, self.path = tempfile.mkstemp(prefix="import-", suffix=".sqlite3", dir=directory)
        os.close(fd)  # created 0600: readable by the server's user alone
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # Scratch data: no journal, no fsync; a crash loses nothing the file does not hold.
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4000;")
        self.db.executescript(_SCHEMA)
        self.db.execute("BEGIN")
        self.folded_rows = 0

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    # Folding -------------------------------------------------------------------------------------------

    def folded(self, key: str) -> list | None:
        if not self.folded_rows:
            return None
        found = self.db.execute("SELECT data FROM folded WHERE key = ?", (key,)).fetchone()
        return _decode(found[0]) if found else None

    def fold(self, items: list[tuple[str, int, int, list]]) -> None:
        """(key, document position, first row, data) of each recommendation, written or replaced."""
        self.db.executemany(
            "INSERT OR REPLACE INTO folded (key, doc, first_row, data) VALUES (?, ?, ?, ?)",
            ((k, d, r, _encode(data)) for k, d, r, data in items),
        )
        self.folded_rows += len(items)

    def of_document(self, doc: int) -> Iterator[list]:
        for (data,) in self.db.execute("SELECT data FROM folded WHERE doc = ? ORDER BY first_row", (doc,)):
            yield _decode(data)

    # The plan --------------------------------------------------------------------------------------------

    def plan(self, items: list[tuple[bool, list]]) -> None:
        self.db.executemany(
            "INSERT INTO planned (pending, data) VALUES (?, ?)",
            ((int(p), _encode(data)) for p, data in items),
        )

    def planned(self, *, pending_only: bool = False) -> Iterator[list]:
        sql = "SELECT data FROM planned WHERE pending >= ? ORDER BY seq"
        for (data,) in self.db.execute(sql, (int(pending_only),)):
            yield _decode(data)

    def pending_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM planned WHERE pending = 1").fetchone()[0]

    # Rejections ------------------------------------------------------------------------------------------

    def reject(self, row: int, column: str, reason: str) -> None:
        self.db.execute("INSERT INTO rejected (row, col, reason) VALUES (?, ?, ?)", (row, column, reason))

    def rejections(self, limit: int | None = None) -> Iterator[tuple[int, str, str]]:
        sql = "SELECT row, col, reason FROM rejected ORDER BY seq LIMIT ?"
        yield from self.db.execute(sql, (-1 if limit is None else limit,))

    def rejected_rows(self) -> int:
        return self.db.execute("SELECT COUNT(DISTINCT row) FROM rejected").fetchone()[0]

    # Codes -----------------------------------------------------------------------------------------------

    def code_taken(self, code: str) -> bool:
        return self.db.execute("SELECT 1 FROM codes WHERE code = ?", (code,)).fetchone() is not None

    def take_code(self, code: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO codes (code) VALUES (?)", (code,))
