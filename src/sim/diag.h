/*
 * diag.h - the simulated machine's answer to the "diagnostics" command
 * (docs/METRICS.md "Diagnostics bundles"): a realistic bundle (a manifest
 * with firmware, uptime, boiler temperature history, a config snapshot and
 * its fault codes, then log lines), uploaded over HTTPS with the machine's
 * own certificate in slices, resuming at the server's `received` after a
 * 409, the last slice with final=true and the SHA-256.
 *
 * Blocking (libcurl's easy interface): the simulator's loop waits for the
 * upload, bounded by DIAG_UPLOAD_TIMEOUT_S; bundles are asked for one at a
 * time by people, and one is ~100 KB.
 */
#ifndef CC_SIM_DIAG_H
#define CC_SIM_DIAG_H

#include <stddef.h>
#include <stdint.h>

#define DIAG_UPLOAD_TIMEOUT_S 30
#define DIAG_SLICE (256 * 1024)

/* The bundle of serial (malloc'd, *len bytes), at most max_bytes: seeded,
 * so a run can be repeated. */
int sim_diag_bundle(const char *serial, uint64_t seed, double uptime_s, size_t max_bytes, char **out, size_t *len);

/* Uploads bundle to https://host:port/path (path from the command's
 * "upload") with certs_dir/serial/{machine.crt, machine.key, ca.crt}.
 * CC_OK, else an error with why (short, for the command's result). */
int sim_diag_upload(const char *host, int port, const char *certs_dir, const char *serial, const char *path,
                    const char *bundle, size_t len, char *why, size_t cap);

/* The answer to a diagnostics command whose body is doc (its "upload" path
 * and "max_bytes"; NULL: none): the bundle made and uploaded when there is a
 * path and an HTTPS port (https_port > 0), else a short text result in
 * reason. 1 uploaded, 0 answered in text, <0 failed (why in reason). */
int sim_diag_answer(const char *host, int https_port, const char *certs_dir, const char *serial, uint64_t seed,
                    double uptime_s, const char *body, size_t len, char *reason, size_t cap);

#endif
