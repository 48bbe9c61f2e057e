/* fuzz_hours.c - a site's business hours as an admin types them (API and
 * CLI): hours_parse must refuse or accept without reading past the text,
 * and what it accepts formats to a canonical form that parses back to the
 * same week; the stretches of a parsed week over a few days stay in order. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/hours.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct week_hours h, again;
	struct hours_window *w;
	char text[512], canon[HOURS_TEXT_MAX + 1], why[160];
	size_t n, i;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (hours_parse(text, &h, why, sizeof(why)) != 0)
		return 0;
	hours_format(&h, canon, sizeof(canon));
	if (hours_parse(canon, &again, why, sizeof(why)) != 0 || memcmp(&h, &again, sizeof(h)) != 0)
		abort();
	/* Three days from Monday 2026-11-30 in a zone with daylight saving. */
	if (hours_windows(&h, "Europe/Budapest", INT64_C(1795996800000), INT64_C(1796256000000), &w, &n) != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (w[i].start_ms >= w[i].end_ms || (i > 0 && w[i].start_ms <= w[i - 1].end_ms))
			abort();
	free(w);
	return 0;
}
