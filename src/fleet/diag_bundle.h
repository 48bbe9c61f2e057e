/*
 * diag_bundle.h - the format of a diagnostics bundle, and its check
 * (docs/METRICS.md "Diagnostics bundles").
 *
 * A bundle is text: its first line, at most DIAG_MANIFEST_MAX bytes before
 * the '\n', is the manifest, a JSON object with
 *   "format": "coffeecloud-diagnostics/1", "serial": the machine's serial,
 *   "firmware": a version string, "uptime_s": a non-negative integer,
 * and anything else the machine reports (boiler temperatures, a config
 * snapshot, error codes); the rest of the bundle is log lines. The
 * manifest is machine data like any message and passes the ingest privacy
 * filter (ingest/privacy.h) whole; the log lines are kept as sent. Pure:
 * no logging, nothing of the input in what it answers.
 */
#ifndef CC_FLEET_DIAG_BUNDLE_H
#define CC_FLEET_DIAG_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/privacy.h"

#define DIAG_FORMAT "coffeecloud-diagnostics/1"
#define DIAG_MANIFEST_MAX (64 * 1024)

/* Checks the manifest at the start of p (len bytes: the bundle, or at least
 * its first DIAG_MANIFEST_MAX + 1 bytes). serial NULL: any. CC_OK and
 * *manifest_len (bytes before the '\n'), or CC_ERR_INVALID with *why (a
 * fixed phrase) and *privacy (PRIVACY_NONE unless the filter refused it). */
int diag_manifest_check(const uint8_t *p, size_t len, const char *serial, size_t *manifest_len, const char **why,
                        enum privacy_reason *privacy);

#endif
