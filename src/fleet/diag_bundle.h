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
 * filter (ingest/privacy.h) whole; every log line passes its text
 * detectors (card numbers, e-mail addresses, phone numbers: what ingest
 * refuses in a message's strings). Pure: no logging, nothing of the input
 * in what it answers.
 *
 * A log line that holds personal data refuses the bundle; it is not
 * redacted. The bundle is checked against the SHA-256 the machine
 * declared, and an engineer compares it with the machine's own copy: a
 * server that rewrote lines would keep something the machine never sent,
 * and a redaction that missed half a number would keep the other half.
 * Ingest refuses a message the same way, whole. The refusal names the line
 * and the detector, never the text, so the firmware's logger can be fixed
 * and the bundle asked for again.
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

/*
 * The log lines after the manifest, fed in pieces as they come (a bundle is
 * read back a chunk at a time). Each line is judged by privacy_scan_text; a
 * line longer than DIAG_LINE_MAX is judged in windows of that size that
 * overlap by DIAG_LINE_OVERLAP bytes, so nothing the detectors find (a card
 * number, base64 or hex encoded included) falls between two of them.
 */
#define DIAG_LINE_MAX (64 * 1024)
#define DIAG_LINE_OVERLAP 512

struct diag_lines {
	uint8_t buf[DIAG_LINE_MAX];
	size_t len;
	int64_t line;    /* the line being read: 1 is the manifest, not judged here */
	int64_t refused; /* the first line refused, 0: none yet */
	enum privacy_reason reason;
};

void diag_lines_init(struct diag_lines *l);
/* PRIVACY_NONE, or the first line's reason (l->refused: which line); the
 * rest is not looked at once one is refused. */
enum privacy_reason diag_lines_feed(struct diag_lines *l, const uint8_t *p, size_t n);
/* The last line, when the bundle does not end with a newline. */
enum privacy_reason diag_lines_end(struct diag_lines *l);

#endif
