"""What a machine's live state says across a daemon crash, and retained publishes."""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402


def publish(daemon, m, topic, payload, *extra):
    return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(daemon.tls_port), "--cafile", str(m.ca),
                           "--cert", str(m.cert), "--key", str(m.key), "-i", m.serial, "-V", "mqttv5",
                           "-q", "1", "-t", topic, "-m", payload, *extra],
                          capture_output=True, text=True, timeout=60)


def test_crashed_daemon_does_not_leave_machines_online(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path, machines=("R1",))
    m = fleet.machines["R1"]
    d = ccdaemon.Daemon(fleet)
    d.start()
    holder = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                               "--cert", str(m.cert), "--key", str(m.key), "-i", "R1", "-V", "mqttv5",
                               "-t", "cc/v1/R1/cmd/#"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ccdaemon.poll_until(lambda: fleet.status("R1")["online"], "R1 to be online")
        d._kill()  # SIGKILL: nobody records that R1 went away
        assert fleet.status("R1")["online"] is True
        d2 = ccdaemon.Daemon(fleet)
        with d2:
            s = fleet.status("R1")
            assert s["online"] is False and s["last_disconnect_reason"] == "daemon restarted", s
    finally:
        holder.kill()
        holder.wait()


def test_retained_info_and_status_are_accepted(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path, machines=("R2",))
    m = fleet.machines["R2"]
    with ccdaemon.Daemon(fleet) as d:
        p = publish(d, m, "cc/v1/R2/info", '{"model":"barista-pro","hw":"rev-c","sw":"4.2.1"}', "-r", "-d")
        assert p.returncode == 0, p.stderr
        assert "PUBACK" in p.stdout and "RC:0" in p.stdout, p.stdout
        # The server announced retain as available, so the client really sent it retained.
        assert "q1, r1," in p.stdout, p.stdout
        p = publish(d, m, "cc/v1/R2/status", "online", "-r")
        assert p.returncode == 0, p.stderr
        assert fleet.status("R2")["info"] == {"model": "barista-pro", "hw": "rev-c", "sw": "4.2.1"}
