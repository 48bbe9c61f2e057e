"""The query benchmark's data generator (bench/gendata.c) stores what the
product stores: every row it adds passes `init --check` (row MACs), every
record it sealed opens, and the daemon serves its machines."""
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402

GENDATA = ccdaemon.BUILD_DIR / "coffeecloud-bench-gendata"


def test_generated_data_is_sealed_like_the_daemons(tmp_path):
    f = ccdaemon.Fleet.create(tmp_path, machines=(), customer="cafe-a")
    p = subprocess.run([str(GENDATA), "--data", str(f.data), "--machines", "40", "--customers", "3", "--sites", "2",
                        "--points", "600"], capture_output=True, text=True, timeout=120, env=ccdaemon.base_env())
    ccdaemon.assert_no_sanitizer_report(p.stderr, "gendata")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["machines"] == 40 and info["sites"] == 6 and info["telemetry"] == 600
    # Every row verifies: organisations, machines (their MACs sealed by the vault's store).
    check = f.cc("init", "--check")
    assert "does not match" not in check.stderr
    # Every record opens, under the customer's key, bound to its row.
    tele = f.ccj("telemetry", "get", "--serial", "BM-00000")
    assert len(tele) == 600
    assert all(set(r["body"]["m"]) >= {"boiler_temp_c", "pump_pressure_bar"} for r in tele)
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}):
        api = Api(port, f.data / "ca.crt")
        token = api.login("admin", ccdaemon.PASSWORD)
        status, doc, _ = api.call("GET", "/api/v1/machines?limit=100", token=token)
        assert status == 200 and len(doc["machines"]) == 40, doc
        assert doc["machines"][0]["serial"] == "BM-00000" and doc["machines"][0]["software_version"] == "4.2.0"
        status, doc, _ = api.call("GET", "/api/v1/machines?customer=bench-cafe-01&site=c01-site-01", token=token)
        assert status == 200 and doc["machines"] and all(m["site"] == "c01-site-01" for m in doc["machines"])
        status, doc, _ = api.call("GET", "/api/v1/machines/BM-00000/telemetry?step=60000&from=%d&to=%d"
                                  % (info["from_ms"], info["to_ms"]), token=token)
        assert status == 200 and len(doc["telemetry"]) == 10 and doc["telemetry"][0]["n"] == 60
