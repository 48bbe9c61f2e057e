#!/usr/bin/python3
"""A real, throwaway PostgreSQL server for one test run.

initdb into a fresh temporary directory, a server that listens on a Unix
socket in that directory only (no TCP), default durability settings (fsync
on), stopped and removed at the end whatever happened. It is Debian's
PostgreSQL 15 (scripts/install-deps: postgresql, postgresql-client,
libpq-dev), never a mock.

PostgreSQL refuses to run as root. When the tests run as root (CI does),
initdb and the server run as an unprivileged account (CC_TEST_PG_USER,
default "nobody") through setpriv, and the directory is chowned to it. Its
mode is 0700: only that account (and root, the test) reach the socket, so
the cluster trusts local connections without a password.

From Python:
    with PgServer() as pg:
        pg.psql("SELECT 1")            # -> "1"
        pg.conninfo("postgres")        # a libpq connection string

From a shell or CTest (the server lives as long as the command):
    tests/support/pgserver.py run -- COMMAND [ARG...]
which sets, for COMMAND: PGHOST, PGPORT, PGUSER, PGDATABASE (so psql and
libpq need no arguments), CC_TEST_POSTGRESQL_CONNINFO (a connection string
to the postgres database) and CC_TEST_POSTGRESQL (the same with dbname=%s,
the location template of tests/unit/test_store_conformance.c). The exit
status is COMMAND's; the server is stopped even when COMMAND fails or the
run is interrupted.
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

PORT = 5432  # names the socket file only: there is no TCP listener
SUPERUSER = "postgres"


def bindir():
    """Debian's PostgreSQL 15 programs (CC_TEST_PG_BINDIR overrides)."""
    for d in (os.environ.get("CC_TEST_PG_BINDIR"), "/usr/lib/postgresql/15/bin"):
        if d and os.path.exists(os.path.join(d, "postgres")):
            return d
    found = shutil.which("postgres")
    if found:
        return os.path.dirname(found)
    raise RuntimeError("PostgreSQL 15 is not installed: run scripts/install-deps")


class PgServer:
    def __init__(self, base=None):
        self.base = base  # parent of the temporary directory; None: $TMPDIR or /tmp
        self.dir = None
        self.proc = None
        self.pid = None
        self.account = None  # the account the server runs as, when we are root

    # -- running programs as the server's account --

    def _as_owner(self, argv):
        if self.account is None:
            return argv
        # setpriv execs in place (runuser would fork): the pid we hold is
        # the program's, so signals reach the postmaster itself.
        pw = pwd.getpwnam(self.account)
        return ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups", "--"] + argv

    @property
    def datadir(self):
        return os.path.join(self.dir, "data")

    @property
    def socketdir(self):
        return self.dir

    def conninfo(self, dbname="postgres"):
        return "host=%s port=%d user=%s dbname=%s" % (self.socketdir, PORT, SUPERUSER, dbname)

    def env(self):
        """Environment for a client: psql and libpq find the server alone."""
        e = dict(os.environ)
        e.update(PGHOST=self.socketdir, PGPORT=str(PORT), PGUSER=SUPERUSER, PGDATABASE="postgres",
                 CC_TEST_POSTGRESQL_CONNINFO=self.conninfo("postgres"),
                 CC_TEST_POSTGRESQL=self.conninfo("%s"))
        return e

    # -- life cycle --

    def start(self, timeout=60):
        b = bindir()
        self.dir = tempfile.mkdtemp(prefix="ccpg-", dir=self.base)
        try:
            os.chmod(self.dir, 0o700)
            if os.geteuid() == 0:
                self.account = os.environ.get("CC_TEST_PG_USER", "nobody")
                pw = pwd.getpwnam(self.account)
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            subprocess.run(self._as_owner([os.path.join(b, "initdb"), "-D", self.datadir, "-U", SUPERUSER,
                                           "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions"]),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
            log = os.path.join(self.dir, "server.log")
            # The server is a child of this process (not daemonised by
            # pg_ctl), so it cannot outlive a test that forgets to stop it
            # for long: stop() and the CLI's handlers end it.
            self.proc = subprocess.Popen(
                self._as_owner([os.path.join(b, "postgres"), "-D", self.datadir, "-p", str(PORT),
                                "-c", "listen_addresses=", "-c", "unix_socket_directories=" + self.socketdir,
                                "-c", "unix_socket_permissions=0700", "-c", "shared_buffers=16MB",
                                "-c", "max_connections=40", "-c", "logging_collector=off",
                                "-c", "log_destination=stderr"]),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/",
                start_new_session=True)
            self._ready = threading.Event()
            threading.Thread(target=self._copy_log, args=(self.proc.stderr, log), daemon=True).start()
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _copy_log(self, stream, log):
        """The server's log lines into server.log; the line that says it
        accepts connections is the event start() waits for."""
        with open(log, "ab") as out:
            for line in stream:
                out.write(line)
                out.flush()
                if b"ready to accept connections" in line:
                    self._ready.set()
        self._ready.set()  # the server exited: start() finds out why

    def _wait_ready(self, timeout):
        if not self._ready.wait(timeout):
            raise RuntimeError("PostgreSQL did not become ready:\n" + self.log_tail())
        if self.proc.poll() is not None:
            raise RuntimeError("PostgreSQL exited at start:\n" + self.log_tail())
        with open(os.path.join(self.datadir, "postmaster.pid")) as f:
            self.pid = int(f.readline())

    def log_tail(self, n=40):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout=30):
        """Fast shutdown (SIGINT), then SIGKILL; removes the directory."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        finally:
            self.proc = None
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- a client --

    def psql(self, sql, dbname="postgres"):
        """Runs sql with psql (libpq) and returns the unaligned output."""
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", self.conninfo(dbname),
                            "-c", sql], check=False, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql: " + r.stderr.strip())
        return r.stdout.strip()


def main(argv):
    if len(argv) < 3 or argv[1] != "run" or argv[2] != "--" or len(argv) < 4:
        sys.stderr.write("usage: pgserver.py run -- COMMAND [ARG...]\n")
        return 2
    pg = PgServer()

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        pg.start()
        return subprocess.run(argv[3:], env=pg.env(), check=False).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        pg.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
