"""The throwaway PostgreSQL server of the tests (tests/support/pgserver.py):
a real PostgreSQL 15 starts in a temporary directory, answers through libpq
(psql) on its Unix socket only, runs as an unprivileged account, keeps what
a committed transaction wrote, and is gone afterwards, also when the test
body failed."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent.parent / "support"
sys.path.insert(0, str(SUPPORT))
import pgserver  # noqa: E402


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_server_starts_answers_and_is_gone_after():
    with pgserver.PgServer() as pg:
        d, pid = pg.dir, pg.pid
        assert pg.psql("SHOW server_version_num").startswith("15")
        # Unix socket in its own directory only: no TCP listener.
        assert pg.psql("SHOW listen_addresses") == ""
        assert pg.psql("SHOW unix_socket_directories") == d
        assert pg.psql("SHOW fsync") == "on" and pg.psql("SHOW synchronous_commit") == "on"
        assert (os.stat(d).st_mode & 0o777) == 0o700
        # PostgreSQL refuses root: the server runs as someone else when we are root.
        uid = int([ln for ln in open("/proc/%d/status" % pid) if ln.startswith("Uid:")][0].split()[1])
        assert uid != 0
        if os.geteuid() != 0:
            assert uid == os.geteuid()
        # A committed write is there; a rolled back one is not.
        pg.psql("CREATE DATABASE conformance")
        pg.psql("CREATE TABLE t(id bigint PRIMARY KEY, body bytea NOT NULL)", "conformance")
        pg.psql("INSERT INTO t VALUES (1, '\\x0001ff'::bytea)", "conformance")
        with pytest.raises(RuntimeError, match="duplicate key"):
            pg.psql("BEGIN; INSERT INTO t VALUES (2, ''::bytea); INSERT INTO t VALUES (1, ''::bytea); COMMIT",
                    "conformance")
        assert pg.psql("SELECT count(*), string_agg(encode(body, 'hex'), ',') FROM t", "conformance") == "1|0001ff"
    assert not alive(pid)
    assert not os.path.exists(d)


def test_the_server_stops_when_the_test_body_fails():
    seen = {}
    with pytest.raises(ZeroDivisionError):
        with pgserver.PgServer() as pg:
            seen.update(dir=pg.dir, pid=pg.pid)
            assert pg.running()
            1 / 0
    assert not alive(seen["pid"])
    assert not os.path.exists(seen["dir"])


def test_run_gives_a_command_the_server_and_its_exit_status():
    # The command finds the server through PG* alone, and the conformance
    # suite's location template is set; the command's status comes back.
    script = ('test "$(psql -XAtc "SELECT 40 + 2")" = 42 && '
              'case "$CC_TEST_POSTGRESQL" in *dbname=%s*) ;; *) exit 9;; esac && '
              'psql -XAtc "SELECT pg_backend_pid()" >/dev/null && echo "$PGHOST" && exit 3')
    p = subprocess.run([sys.executable, str(SUPPORT / "pgserver.py"), "run", "--", "sh", "-c", script],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3, p.stdout + p.stderr
    host = p.stdout.strip().splitlines()[-1]
    assert host.startswith("/") and not os.path.exists(host)
    p = subprocess.run([sys.executable, str(SUPPORT / "pgserver.py"), "run"], capture_output=True, text=True)
    assert p.returncode == 2 and "usage" in p.stderr
