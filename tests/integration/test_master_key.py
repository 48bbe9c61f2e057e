"""Custody of the master key (issue 8, section 3): a key beside the database
means a copy of the data directory decrypts everything. init puts the key
where it is told (--master-key-file, generated when missing, or a systemd
credential), and warns loudly, at init, in `init --check` and in the daemon's
log, when the key is inside the data directory."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402

NOTFOUND = 3


def cc(*args, rc=0, env=None, stdin=ccdaemon.PASSWORD + "\n"):
    e = ccdaemon.base_env()
    e.pop("CC_MASTER_KEY_FILE", None)
    e.pop("CREDENTIALS_DIRECTORY", None)
    e.update(env or {})
    p = subprocess.run([str(ccdaemon.CLI)] + [str(a) for a in args], input=stdin, capture_output=True, text=True,
                       env=e, timeout=120)
    ccdaemon.assert_no_sanitizer_report(p.stderr, " ".join(map(str, args)))
    if rc is not None:
        assert p.returncode == rc, ccdaemon.describe([str(a) for a in args], p)
    return p


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_init_generates_the_key_outside_the_data_directory(tmp_path):
    key, data = tmp_path / "etc-coffeecloud" / "master.key", tmp_path / "data"
    p = cc("init", "--data", data, "--master-key-file", key, "--password-stdin", "--json")
    doc = json.loads(p.stdout)
    assert doc["master_key_file"] == str(key) and doc["master_key_inside"] is False
    assert "inside the data directory" not in p.stderr
    assert mode(key) == 0o600 and mode(key.parent) == 0o700
    assert not (data / "master.key").exists()
    # A copy of the data directory alone opens nothing.
    copy = tmp_path / "stolen"
    shutil.copytree(data, copy, symlinks=True)
    p = cc("org", "list", "--data", copy, rc=NOTFOUND)
    assert "master key" in p.stderr
    assert [o["name"] for o in json.loads(cc("org", "list", "--data", data, "--master-key-file", key,
                                             "--json").stdout)] == ["manufacturer"]
    p = cc("init", "--check", "--data", data, "--master-key-file", key)
    assert "inside the data directory" not in p.stderr


def test_the_default_key_is_beside_the_directory_and_a_key_inside_is_warned_about(tmp_path):
    data = tmp_path / "data"
    p = cc("init", "--data", data, "--password-stdin", "--json")
    doc = json.loads(p.stdout)
    assert doc["master_key_inside"] is False and doc["master_key_file"] == str(tmp_path / "data.master.key")
    assert "inside the data directory" not in p.stderr, p.stderr
    assert not (data / "master.key").exists()
    # A copy of the directory alone decrypts nothing: without the key beside it, nothing opens.
    shutil.copytree(data, tmp_path / "copy", symlinks=True)
    cc("org", "list", "--data", tmp_path / "copy", rc=NOTFOUND)
    # Named explicitly, inside is inside.
    data2 = tmp_path / "data2"
    p = cc("init", "--data", data2, "--master-key-file", data2 / "keys" / "master.key", "--password-stdin")
    assert "WARNING: the master key is inside the data directory" in p.stderr, p.stderr


def legacy(tmp_path):
    """A data directory made before keys moved out: its key is DIR/master.key."""
    f = ccdaemon.Fleet.create(tmp_path, machines=())
    ccdaemon.master_key_of(f.data).rename(f.data / "master.key")
    return f


def test_a_directory_made_before_keeps_its_inside_key_with_a_warning(tmp_path):
    f = legacy(tmp_path)
    p = f.cc("init", "--check")
    assert "the master key is inside the data directory" in p.stderr, p.stderr
    assert "manufacturer" in f.cc("org", "list").stdout


def test_the_daemon_warns_about_a_key_inside(tmp_path):
    f = legacy(tmp_path)
    with ccdaemon.Daemon(f) as d:
        d.wait_for(r"the master key is inside the data directory")


def test_a_systemd_credential_is_the_master_key(tmp_path):
    creds, data = tmp_path / "credentials", tmp_path / "data"
    creds.mkdir(mode=0o700)
    cc("key", "generate", "--out", creds / "master.key")
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    p = cc("init", "--data", data, "--password-stdin", env=env)
    assert str(creds / "master.key") in p.stdout and "inside the data directory" not in p.stderr
    assert not (data / "master.key").exists()
    assert "manufacturer" in cc("org", "list", "--data", data, env=env).stdout
    cc("org", "list", "--data", data, rc=NOTFOUND)
    cc("init", "--check", "--data", data, env=env)
