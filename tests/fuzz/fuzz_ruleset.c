/* fuzz_ruleset.c - a rule set as an engineer uploads it (quality_ruleset_parse),
 * and the judging of a brew by what it parsed. */
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "quality/ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct quality_ruleset rs;
	char why[QUALITY_WHY_MAX];
	double v[QF_COUNT] = { 93.0, 24.0, 30.0 };
	int has[QF_COUNT] = { 1, 1, 1 };
	size_t i;

	log_set_level(LOG_LEVEL_SILENT);
	if (quality_ruleset_parse((const char *)data, size, &rs, why, sizeof(why)) != 0)
		return why[0] == '\0' ? (__builtin_trap(), 0) : 0;
	for (i = 0; i < rs.nproducts; i++)
		(void)quality_brew_judge(quality_ruleset_product(&rs, rs.products[i].name, __builtin_strlen(rs.products[i].name)),
		                         v, has);
	return 0;
}
