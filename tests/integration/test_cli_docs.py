"""docs/CLI.md lists every command the CLI has (issue 9): the command list
of `coffeecloud --help` is read, and each noun and verb must appear in the
reference as a backticked command."""
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "CLI.md"


def commands():
    out = ccdaemon.run_cli("--help").stdout
    found = []
    for line in out.splitlines():
        m = re.match(r"^  ([a-z]+)(?: +([a-z][a-z-]*))?  +\S", line)
        if m:
            found.append(" ".join(x for x in m.groups() if x))
    return found


def test_every_command_is_in_the_reference():
    cmds = commands()
    assert len(cmds) > 30, cmds
    doc = DOC.read_text()
    documented = re.findall(r"`([^`]+)`", doc)
    missing = [c for c in cmds if not any(d == c or d.startswith(c + " ") for d in documented)]
    assert not missing, f"commands missing from docs/CLI.md: {missing}"


def test_both_programs_name_their_version():
    project = re.search(r"project\(coffeecloud VERSION ([0-9.]+)",
                        (DOC.parents[1] / "CMakeLists.txt").read_text()).group(1)
    assert ccdaemon.run_cli("--version").stdout == f"coffeecloud {project}\n"
    import subprocess
    p = subprocess.run([str(ccdaemon.DAEMON), "--version"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout == f"coffeecloudd {project}\n"


def test_json_errors_and_numbers_as_typed(tmp_path):
    import json
    import subprocess
    import time
    f = ccdaemon.Fleet.create(tmp_path, machines=("N1",), customer="cafe-n")
    p = f.cc("machine", "show", "NOPE-1", "--json", rc=3)
    assert json.loads(p.stdout)["error"]["code"] == "not_found" and json.loads(p.stdout)["error"]["exit"] == 3
    p = ccdaemon.run_cli("org", "list", "--data", tmp_path / "missing", "--json", rc=3)
    assert "no such data directory" in json.loads(p.stdout)["error"]["message"]
    d = ccdaemon.Daemon(f)
    d.start()
    m = f.machines["N1"]
    try:
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                            "--cert", str(m.cert), "--key", str(m.key), "-i", "N1", "-V", "mqttv5", "-q", "1",
                            "-t", "cc/v1/N1/telemetry", "-m",
                            json.dumps({"seq": 1, "ts": int(time.time() * 1000),
                                        "m": {"boiler_temp_c": 93.4, "pump_pressure_bar": 9.1}})],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        d.stop()
    out = f.cc("telemetry", "get", "N1", "--json").stdout
    assert '"boiler_temp_c": 93.4' in out and '"pump_pressure_bar": 9.1' in out, out


def test_the_config_reference_is_the_table_the_parser_uses():
    """docs/CONFIG.md's table is what `coffeecloudd --config-reference` prints
    from the parser's own table: a setting documented by hand drifts."""
    import subprocess
    p = subprocess.run([str(ccdaemon.DAEMON), "--config-reference"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    printed = [l for l in p.stdout.splitlines() if l.startswith("|")]
    documented = [l for l in (DOC.parent / "CONFIG.md").read_text().splitlines() if l.startswith("|")]
    assert len(printed) > 20
    assert documented[:len(printed)] == printed, "regenerate the table: coffeecloudd --config-reference"
