"""What an integration test reads from (or ages in) an installation's store,
without knowing which backend holds it.

    with storeview.open_store(fleet.data) as db:
        db.count("telemetry")
        db.scalar("SELECT id FROM orgs WHERE name = ?", ("cafe-r",))
        db.machine_records()      # [(serial, seq)] of stored telemetry and events
        db.unsettled()            # records acknowledged but not yet in their tables
    with storeview.open_store(fleet.data, write=True) as db:
        db.execute("UPDATE outbox SET done_ms = done_ms - ? WHERE msg_id = ?", (age, msg))

SQL given to rows/scalar/count/execute is the dialect both backends agree on
(docs/STORE.md): standard SELECT/UPDATE/DELETE, `?` placeholders, no
upsert, no SQLite or PostgreSQL functions. The PostgreSQL view (issue 14)
translates the placeholders; anything the dialects disagree on gets a
named method here instead (unsettled: SQLite's inbox is a file of its own,
PostgreSQL's will be a table).

Only SqliteView exists today; open_store picks the backend of the data
directory (today always "sqlite"; tests/support/pgserver.py starts the
PostgreSQL server the other view will read).

Tests that stay SQLite-specific on purpose, because they damage or
inspect the file itself behind the product's back:
  - test_integrity.py and rowmac.py: tamper with access rows and their
    MACs, build legacy schemas, truncate and corrupt the file;
  - test_audit_cli.py: rewrites audit rows, hashes and the stored head to
    show `audit verify` finds each kind of damage;
  - test_fleet_admin.py (the MAC'd columns reset behind the vault's back)
    and test_credentials.py (expiry moved and the rows re-sealed with
    rowmac.py, as an operator holding the master key would);
  - test_cli.py snapshot_except_audit: "changes nothing" compared as the
    file's SQL dump;
  - test_authz_matrix.py: plants fixture rows (alerts, bundles, tickets)
    and expires sessions directly, in SQL tied to today's schema;
  - test_account_deletion.py's store_bytes: searches the database files'
    bytes for a deleted person's data (its reads use this helper).
Each would get its PostgreSQL counterpart with the backend, not through
this helper.
"""
import sqlite3
from pathlib import Path

DB_FILE = "coffeecloud.db"
INBOX_FILE = "coffeecloud-inbox.db"


class SqliteView:
    backend = "sqlite"

    def __init__(self, data, write=False):
        self.data = Path(data)
        path = self.data / DB_FILE
        if not path.exists():
            raise FileNotFoundError(path)
        if write:
            self.db = sqlite3.connect(str(path), timeout=30)
        else:
            # Read-only: a test's look never changes what it looks at.
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        self.write = write

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- the common dialect --

    def rows(self, sql, params=()):
        return self.db.execute(sql, params).fetchall()

    def one(self, sql, params=()):
        return self.db.execute(sql, params).fetchone()

    def scalar(self, sql, params=()):
        row = self.one(sql, params)
        return None if row is None else row[0]

    def count(self, table, where="", params=()):
        """Rows of table (a name from the schema, never input) matching where."""
        return self.scalar(f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else ""), params)

    def execute(self, sql, params=()):
        """One write, committed; the number of rows it changed."""
        if not self.write:
            raise PermissionError("open_store(..., write=True) to change the store")
        with self.db:
            return self.db.execute(sql, params).rowcount

    def meta(self, key):
        return self.scalar("SELECT value FROM meta WHERE key = ?", (key,))

    # -- where the backends differ --

    def machine_records(self):
        """(serial, seq) of every telemetry and event record in its table."""
        return self.rows("SELECT m.serial, t.seq FROM telemetry t JOIN machines m ON m.id = t.machine_id "
                         "UNION ALL SELECT m.serial, e.seq FROM events e JOIN machines m ON m.id = e.machine_id")

    def unsettled(self):
        """Records acknowledged but not yet moved into their tables (the inbox)."""
        applied = int(self.meta("inbox-applied") or 0)
        inbox = self.data / INBOX_FILE
        if not inbox.exists():
            return 0
        c = sqlite3.connect(f"file:{inbox}?mode=ro", uri=True, timeout=30)
        try:
            return c.execute("SELECT count(*) FROM records WHERE id > ?", (applied,)).fetchone()[0]
        finally:
            c.close()


def backend_of(data):
    """The store backend of a data directory. Only SQLite exists today."""
    return "sqlite"


def open_store(data, write=False):
    backend = backend_of(data)
    if backend == "sqlite":
        return SqliteView(data, write)
    raise ValueError("no store view for backend %r" % backend)
