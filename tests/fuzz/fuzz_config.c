/* fuzz_config.c - the daemon's configuration parser takes any bytes. */
#include <stdint.h>
#include <stddef.h>

#include "common/log.h"
#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;

	log_set_level(LOG_LEVEL_SILENT);
	config_defaults(&cfg);
	if (config_parse(&cfg, (const char *)data, size) == 0)
		(void)config_validate(&cfg);
	return 0;
}
