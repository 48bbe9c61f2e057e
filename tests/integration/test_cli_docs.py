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


def options_of(cmd):
    """The options `coffeecloud NOUN VERB --help` lists (without --data,
    --master-key-file, --json and --help, which every command shares)."""
    out = ccdaemon.run_cli(*cmd.split(), "--help").stdout
    opts = re.findall(r"^  --([a-z][a-z-]*)", out, re.M)
    # The option a bare argument fills (`machine revoke S`) is written bare.
    usage = re.match(r"usage: coffeecloud " + re.escape(cmd) + r" ([a-z-]+) \[options\]", out)
    positional = usage.group(1) if usage else None
    return [o for o in opts if o not in ("data", "master-key-file", "json", "help", positional)]


def reference_rows():
    """{command: the first cells of the reference's table rows that name it}.
    A row names `noun verb ...` in backticks (several, separated by /)."""
    rows = {}
    nouns = {c.split()[0] for c in commands()}
    for line in DOC.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        first = re.split(r"(?<!\\)\|", line)[1]
        for code in re.findall(r"`([^`]+)`", first):
            words = code.split()
            if words and words[0] in nouns:
                name = " ".join(words[:2]) if len(words) > 1 and re.fullmatch(r"[a-z][a-z-]*", words[1]) \
                    else words[0]
                rows.setdefault(name, []).append(code)
    return rows


def test_every_option_is_in_the_reference_and_nothing_else():
    """Both ways: each command's row names every option it takes, and the
    reference names no command or option the CLI does not have."""
    cmds = set(commands())
    rows = reference_rows()
    missing, unknown = [], []
    for cmd in sorted(cmds):
        text = " ".join(rows.get(cmd, []) + (rows.get(cmd.split()[0], []) if cmd == "init" else []))
        missing += [f"{cmd} --{o}" for o in options_of(cmd) if f"--{o}" not in text]
    for name, codes in rows.items():
        if name not in cmds:
            unknown.append(name)
            continue
        known = set(options_of(name)) | {"data", "master-key-file", "json", "help"}
        unknown += [f"{name} --{o}" for code in codes for o in re.findall(r"--([a-z][a-z-]*)", code)
                    if o not in known]
    assert not missing, f"options missing from docs/CLI.md: {missing}"
    assert not unknown, f"docs/CLI.md names what the CLI does not have: {unknown}"
