/*
 * fuzz_job_result.c - a machine's command result (fleet/jobs.h) from hostile
 * bytes: no crash, and what is accepted is one of the three states with a
 * reason of at most JOBS_REASON_MAX bytes of one line, in which the privacy
 * filter finds nothing; what is refused says why and leaves no text behind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fleet/jobs.h"
#include "ingest/privacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum store_command_report report = 0;
	enum privacy_reason privacy;
	char text[JOBS_REASON_MAX + 1];
	const char *why = NULL;
	size_t i, n;
	int rc = jobs_result_parse(data, size, &report, text, &why, &privacy);

	if (rc != CC_OK) {
		if (rc != CC_ERR_INVALID || why == NULL || why[0] == '\0' || text[0] != '\0')
			abort();
		return 0;
	}
	if (report != STORE_REPORT_ACCEPTED && report != STORE_REPORT_SUCCEEDED && report != STORE_REPORT_FAILED)
		abort();
	if (privacy != PRIVACY_NONE || size > JOBS_RESULT_MAX)
		abort();
	n = strnlen(text, sizeof(text));
	if (n > JOBS_REASON_MAX || (report == STORE_REPORT_ACCEPTED && n > 0))
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			abort();
	if (privacy_scan_text(text, n) != PRIVACY_NONE)
		abort();
	return 0;
}
