"""The daemon leaves root; the CLI keeps a service account's files its own."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest

BUILD = os.environ.get("CC_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
CLI = os.path.join(BUILD, "coffeecloud")
DAEMON = os.path.join(BUILD, "coffeecloudd")
ACCOUNT = "coffeecloud"  # created by scripts/install-deps


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def place():
    # pytest's own temporary directories are closed to other accounts; the
    # service account must be able to reach its data directory.
    root = tempfile.mkdtemp(prefix="cc-priv-", dir="/tmp")
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    raise AssertionError(name + " not in /proc status")


def test_daemon_runs_as_the_service_account(place):
    assert os.geteuid() == 0, "this test checks what root does, run it as root (CI does)"
    account = pwd.getpwnam(ACCOUNT)
    data = os.path.join(place, "data")
    subprocess.run([CLI, "init", "--data", data, "--owner", ACCOUNT, "--password-stdin"],
                   input=b"a long test password\n", check=True, capture_output=True)
    for name in os.listdir(data):
        assert os.stat(os.path.join(data, name)).st_uid == account.pw_uid, name
    conf = os.path.join(place, "conf")
    with open(conf, "w") as f:
        f.write("mqtt_listen = 127.0.0.1:%d\nhttps_listen =\n" % free_port())
    proc = subprocess.Popen([DAEMON, "--data", data, "--config", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stderr:  # each line is an event; EOF means the daemon died
            seen.append(line)
            if "daemon: info: ready" in line:
                break
        assert seen and "daemon: info: ready" in seen[-1], "".join(seen)
        assert status_field(proc.pid, "Uid") == str(account.pw_uid)
        assert status_field(proc.pid, "Gid") == str(account.pw_gid)
        with open("/proc/%d/limits" % proc.pid) as f:
            core = [l for l in f if l.startswith("Max core file size")][0]
        assert core.split()[4] == "0", core  # no core dumps: keys stay in memory only

        # Root using the CLI on the account's directory works as the account.
        subprocess.run([CLI, "org", "add", "--data", data, "--name", "cafe", "--kind", "customer",
                        "--parent", "manufacturer"], check=True, capture_output=True)
        for name in os.listdir(data):
            assert os.stat(os.path.join(data, name)).st_uid == account.pw_uid, name
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.stderr.read()  # drain, so the daemon never blocks on a full pipe while stopping
        assert proc.wait(timeout=60) == 0


def test_daemon_refuses_a_directory_its_account_does_not_own(place):
    data = os.path.join(place, "data")
    subprocess.run([CLI, "init", "--data", data, "--password-stdin"], input=b"a long test password\n",
                   check=True, capture_output=True)
    conf = os.path.join(place, "conf")
    with open(conf, "w") as f:
        f.write("mqtt_listen = 127.0.0.1:%d\nhttps_listen =\n" % free_port())
    p = subprocess.run([DAEMON, "--data", data, "--config", conf], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "chown" in p.stderr and ACCOUNT in p.stderr, p.stderr


def test_a_refused_init_with_owner_changes_nothing(place):
    """Issue 9: init --owner on a directory that init refuses (not empty)
    used to hand it to the service account first, locking root's later
    commands out. A refused command changes nothing."""
    data = os.path.join(place, "data")
    subprocess.run([CLI, "init", "--data", data, "--password-stdin"], input=b"a long test password\n",
                   check=True, capture_output=True)
    before = {name: os.stat(os.path.join(data, name)).st_uid for name in os.listdir(data)}
    before["."] = os.stat(data).st_uid
    p = subprocess.run([CLI, "init", "--data", data, "--owner", ACCOUNT, "--password-stdin"],
                       input="a long test password\n", capture_output=True, text=True)
    assert p.returncode == 4 and "not empty" in p.stderr, p.stderr
    after = {name: os.stat(os.path.join(data, name)).st_uid for name in os.listdir(data)}
    after["."] = os.stat(data).st_uid
    assert after == before
    subprocess.run([CLI, "org", "list", "--data", data], check=True, capture_output=True)
