"""The README's walk-through runs as written (issue 9): every ```sh block of
README.md, in order, in one bash with `set -euo pipefail`, from a fresh
working directory, as root (what the README says: Debian 12, as root).

Only paths and ports are rewritten: the data directory /srv/cc and the
daemon's /etc/coffeecloudd.conf go to a temporary directory, build/ is
$CC_BUILD_DIR, and the README's own ports (18883, 18443) become free ones.
A block is left out only when the line before it says
`<!-- readme-test: skip ...-->` (the quick start: `make demo`, `make test`);
every other block runs, whoever added it, and a failing block fails the test."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402

README = ccdaemon.REPO / "README.md"
SKIP = "<!-- readme-test: skip"
PORTS = ("18883", "18443", "19464")


def blocks(text):
    """[(line number, code, skipped)] of every ```sh block, in order."""
    found, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start = i + 1
            j = start
            while lines[j].strip() != "```":
                j += 1
            before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            found.append((start + 1, "\n".join(lines[start:j]), before.strip().startswith(SKIP)))
            i = j
        i += 1
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def rewrite(code, root, build, ports):
    code = code.replace("/srv/cc", f"{root}/cc").replace("/etc/coffeecloudd.conf", f"{root}/coffeecloudd.conf")
    code = re.sub(r"(?m)^B=build$", f"B={build}", code)
    code = re.sub(r"(?<![\w./-])build/", f"{build}/", code)
    for old, new in ports.items():
        code = re.sub(rf"(?<!\d){old}(?!\d)", new, code)
    return code


def test_the_blocks_are_found_and_only_the_quick_start_is_skipped():
    found = blocks(README.read_text())
    skipped = [code for _, code, skip in found if skip]
    assert len(skipped) == 1 and "make demo" in skipped[0], skipped
    assert len(found) - len(skipped) >= 5, found
    assert "/srv/cc" in "".join(code for _, code, skip in found if not skip)


def test_the_readme_runs_as_written(tmp_path):
    assert os.geteuid() == 0, "the README is run as root (Debian 12, as root): run this test as root (CI does)"
    build = ccdaemon.BUILD_DIR
    # The daemon's account must reach its data directory: not under pytest's
    # private temporary directories.
    root = tempfile.mkdtemp(prefix="cc-readme-", dir="/tmp")
    os.chmod(root, 0o755)
    ports = {p: free_port() for p in PORTS}
    work = tmp_path / "clone"
    work.mkdir()
    parts = ["set -euo pipefail",
             # A block that fails leaves no daemon behind (the README's last block stops it).
             "trap 'if [ -n \"${DAEMON:-}\" ]; then kill \"$DAEMON\" 2>/dev/null || true; fi' EXIT"]
    ran = 0
    for line, code, skip in blocks(README.read_text()):
        if skip:
            continue
        ran += 1
        parts.append(f"echo '=== README.md block at line {line}'")
        parts.append(rewrite(code, root, build, ports))
    script = "\n".join(parts) + "\n"
    (tmp_path / "readme.sh").write_text(script)
    env = ccdaemon.base_env() if hasattr(ccdaemon, "base_env") else dict(os.environ)
    proc = subprocess.Popen(["bash", str(tmp_path / "readme.sh")], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"the README's blocks did not finish in 240 s\n--- stdout\n{out[-4000:]}\n--- stderr\n{err[-4000:]}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    where = f"\n--- stdout\n{out[-6000:]}\n--- stderr\n{err[-6000:]}"
    ccdaemon.assert_no_sanitizer_report(err, "the README's blocks")
    assert proc.returncode == 0, f"a README block failed (exit {proc.returncode}); the last === line names it" + where
    assert out.count("=== README.md block at line") == ran, where
    assert "CM-0001/machine.crt: OK" in out, where
    # The CLI decrypted the machine's message: a table, one column per metric, values as sent.
    header = next((l for l in out.splitlines() if l.startswith("TIME ")), None)
    assert header is not None and header.split()[:4] == ["TIME", "SEQ", "boiler_temp_c", "pump_pressure_bar"], where
    row = out.splitlines()[out.splitlines().index(header) + 1].split()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row[0]) and row[1:] == ["1", "93.4", "9"], where
    # The API answered alice, with the machine and its telemetry.
    assert re.search(r'"serial":\s*"CM-0001"', out), where
    assert re.search(r'"boiler_temp_c":\s*93\.4\b', out), where
    assert "/api/v1/machines/{serial}/telemetry" in out, where
