"""The files the Debian package ships (issue 15), checked without building
the package (`make test-package` builds and installs it):

- the man pages, generated from the binaries by man/gen-man as the build
  does: every setting of `coffeecloudd --config-reference` is in
  coffeecloudd.conf(5), every command of `coffeecloud --help` in
  coffeecloud(8), and mandoc and groff render all three without a warning;
- the systemd unit: the sandbox settings the issue asks for are there and
  `systemd-analyze security` rates it at 2.0 or below;
- the packaged configuration file is one the daemon accepts;
- debian/changelog names the version the project builds."""
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402

REPO = ccdaemon.REPO
UNIT = REPO / "debian" / "coffeecloud.service"


def pages(tmp_path):
    out = tmp_path / "man"
    p = subprocess.run([str(REPO / "man" / "gen-man"), str(ccdaemon.CLI), str(ccdaemon.DAEMON),
                        str(REPO / "man"), str(out)], capture_output=True, text=True, timeout=60,
                       env=ccdaemon.base_env())
    assert p.returncode == 0, p.stderr
    ccdaemon.assert_no_sanitizer_report(p.stderr, "gen-man")
    return out


def settings():
    p = subprocess.run([str(ccdaemon.DAEMON), "--config-reference"], capture_output=True, text=True,
                       timeout=30, env=ccdaemon.base_env())
    assert p.returncode == 0, p.stderr
    names = re.findall(r"^\| `([a-z0-9_]+)` \|", p.stdout, re.M)
    assert len(names) > 30, p.stdout
    return names


def test_every_setting_is_in_coffeecloudd_conf_5(tmp_path):
    page = (pages(tmp_path) / "coffeecloudd.conf.5").read_text()
    items = re.findall(r"^\.It Cm ([a-z0-9_]+) Ar ", page, re.M)
    assert items == settings()


def test_every_command_is_in_coffeecloud_8(tmp_path):
    page = (pages(tmp_path) / "coffeecloud.8").read_text()
    items = [" ".join(m) .strip() for m in re.findall(r"^\.It Nm ([a-z-]+)(?: Cm ([a-z-]+))?$", page, re.M)]
    out = ccdaemon.run_cli("--help").stdout
    commands = [" ".join(x for x in m if x)
                for m in re.findall(r"^  ([a-z][a-z-]*)(?: +([a-z][a-z-]*))?  +\S", out, re.M)]
    assert len(commands) > 30 and items == commands


def test_the_pages_render_without_warnings(tmp_path):
    out = pages(tmp_path)
    for name in ("coffeecloud.8", "coffeecloudd.8", "coffeecloudd.conf.5"):
        lint = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", str(out / name)],
                              capture_output=True, text=True, timeout=30)
        assert lint.returncode == 0 and lint.stdout == "" and lint.stderr == "", (name, lint.stdout, lint.stderr)
        groff = subprocess.run(["groff", "-mandoc", "-ww", "-z", str(out / name)],
                               capture_output=True, text=True, timeout=30, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
        assert groff.returncode == 0 and groff.stderr == "", (name, groff.stderr)


def test_the_unit_is_sandboxed_and_rated_2_or_below():
    unit = UNIT.read_text()
    for line in ("User=coffeecloud", "ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes",
                 "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "SystemCallFilter=@system-service",
                 "MemoryDenyWriteExecute=yes", "LoadCredential=master.key:/etc/coffeecloud/master.key"):
        assert re.search("^" + re.escape(line) + "$", unit, re.M), line
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    level = float(re.search(r"Overall exposure level for coffeecloud\.service: ([0-9.]+)", p.stdout).group(1))
    assert level <= 2.0, p.stdout


def test_the_packaged_configuration_is_accepted(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path, machines=())
    # The packaged file as it is, plus what running the check as root here
    # needs (the service runs as the account the file leaves as default).
    conf = tmp_path / "coffeecloudd.conf"
    conf.write_text((REPO / "debian" / "coffeecloudd.conf").read_text() + "user = root\n")
    p = subprocess.run([str(ccdaemon.DAEMON), "--data", str(fleet.data), "--config", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=60, env=ccdaemon.base_env())
    assert p.returncode == 0, p.stdout + p.stderr
    ccdaemon.assert_no_sanitizer_report(p.stderr, "coffeecloudd --check-config")


def test_the_package_version_is_the_project_version():
    project = re.search(r"project\(coffeecloud VERSION ([0-9.]+)", (REPO / "CMakeLists.txt").read_text()).group(1)
    first = (REPO / "debian" / "changelog").read_text().splitlines()[0]
    assert re.match(r"^coffeecloud \(" + re.escape(project) + r"(-[0-9.]+)?\) ", first), first
