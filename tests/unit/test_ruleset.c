/* test_ruleset.c - quality rule sets: the shipped ones parse, what is wrong is named. */
#include <string.h>

#include "check.h"
#include "common/err.h"
#include "quality/ruleset.h"

static int parse(const char *text, struct quality_ruleset *rs, char *why)
{
	return quality_ruleset_parse(text, strlen(text), rs, why, QUALITY_WHY_MAX);
}

static void test_defaults_parse(void)
{
	static struct quality_ruleset rs;
	char why[QUALITY_WHY_MAX];
	const struct quality_product *p;

	CHECK_EQ(parse(quality_default_text("barista-pro"), &rs, why), CC_OK);
	CHECK_STR(rs.model, "barista-pro");
	CHECK_EQ(rs.nproducts, 10);
	CHECK_EQ(rs.nlimits, 1);
	CHECK_STR(rs.limits[0].metric, "milk_fridge_temp_c");
	CHECK_EQ(rs.limits[0].for_s, 600);
	CHECK(rs.limits[0].r.has_max && rs.limits[0].r.max == 5.0 && !rs.limits[0].r.has_min);
	CHECK(rs.cleaning[QP_MILK_SYSTEM].due && rs.cleaning[QP_MILK_SYSTEM].every_h == 24);
	CHECK(rs.cleaning[QP_DESCALE].due && rs.cleaning[QP_DESCALE].every_l == 400.0);
	CHECK(!rs.cleaning[QP_RINSE].due);
	p = quality_ruleset_product(&rs, "lungo", 5);
	CHECK(p != NULL && strcmp(p->name, "lungo") == 0 && p->r[QF_TIME].max == 42.0);
	p = quality_ruleset_product(&rs, "tea", 3);
	CHECK(p != NULL && strcmp(p->name, "*") == 0);
	CHECK_EQ(parse(quality_default_text("espresso-one"), &rs, why), CC_OK);
	CHECK_STR(rs.model, "*");
	CHECK_EQ(rs.nlimits, 0);
}

static void test_judge(void)
{
	static struct quality_ruleset rs;
	char why[QUALITY_WHY_MAX];
	const struct quality_product *p;
	double v[QF_COUNT] = { 93.0, 24.0, 30.0 };
	int has[QF_COUNT] = { 1, 1, 1 };

	CHECK_EQ(parse(quality_default_text("barista-pro"), &rs, why), CC_OK);
	p = quality_ruleset_product(&rs, "espresso", 8);
	CHECK_EQ(quality_brew_judge(p, v, has), 0);
	v[QF_TEMP] = 96.0; /* inclusive */
	CHECK_EQ(quality_brew_judge(p, v, has), 0);
	v[QF_TEMP] = 88.5;
	v[QF_TIME] = 31.0;
	CHECK_EQ(quality_brew_judge(p, v, has), (1u << QF_TEMP) | (1u << QF_TIME));
	has[QF_TEMP] = 0; /* not sent: not judged */
	CHECK_EQ(quality_brew_judge(p, v, has), 1u << QF_TIME);
	/* The extraction pressure: 8-10 bar for the barista-pro's espresso. */
	v[QF_TIME] = 24.0;
	v[QF_PRESSURE] = 7.9;
	has[QF_PRESSURE] = 1;
	CHECK_EQ(quality_brew_judge(p, v, has), 1u << QF_PRESSURE);
	v[QF_PRESSURE] = 10.0;
	CHECK_EQ(quality_brew_judge(p, v, has), 0);
}

static void refused(const char *text, const char *expect)
{
	static struct quality_ruleset rs;
	char why[QUALITY_WHY_MAX];

	CHECK_EQ(parse(text, &rs, why), CC_ERR_INVALID);
	if (strstr(why, expect) == NULL)
		fprintf(stderr, "why: %s (expected %s)\n", why, expect);
	CHECK(strstr(why, expect) != NULL);
	CHECK_EQ(rs.nproducts, 0);
}

static void test_refused(void)
{
	refused("", "JSON object");
	refused("[1]", "JSON object");
	refused("{\"model\":\"m\",\"model\":\"n\"}", "twice");
	refused("{\"products\":{}}", "model:");
	refused("{\"model\":\"Bad Model\"}", "model:");
	refused("{\"model\":\"m\",\"colour\":1}", "colour: not a member");
	refused("{\"model\":\"m\"}", "names products");
	refused("{\"model\":\"m\",\"products\":{\"espresso\":{\"temp_c\":{\"min\":97,\"max\":96}}}}",
	        "products.espresso.temp_c: min above max");
	refused("{\"model\":\"m\",\"products\":{\"espresso\":{\"temp_c\":{\"min\":-5}}}}",
	        "products.espresso.temp_c: min and max within");
	refused("{\"model\":\"m\",\"products\":{\"espresso\":{\"temp_c\":{}}}}", "needs min, max or both");
	refused("{\"model\":\"m\",\"products\":{\"espresso\":{\"grind_g\":{\"max\":9}}}}",
	        "products.espresso.grind_g: not a field");
	refused("{\"model\":\"m\",\"products\":{\"mocha\":{\"temp_c\":{\"max\":96}}}}", "products.mocha: not a product");
	refused("{\"model\":\"m\",\"products\":{\"espresso\":{}}}", "at least one of");
	refused("{\"model\":\"m\",\"telemetry\":[{\"metric\":\"warp_core_c\",\"max\":5,\"for_s\":600}]}",
	        "telemetry[0].metric");
	refused("{\"model\":\"m\",\"telemetry\":[{\"metric\":\"cup_counter\",\"max\":5,\"for_s\":600}]}",
	        "not a counter");
	refused("{\"model\":\"barista-pro\",\"telemetry\":[{\"metric\":\"milk_fridge_temp_c\",\"max\":5,\"for_s\":5}]}",
	        "telemetry[0].for_s");
	refused("{\"model\":\"barista-pro\",\"telemetry\":[{\"metric\":\"milk_fridge_temp_c\",\"max\":5,\"for_s\":600},"
	        "{\"metric\":\"milk_fridge_temp_c\",\"max\":6,\"for_s\":600}]}", "has a limit already");
	refused("{\"model\":\"m\",\"cleaning\":[{\"program\":\"polish\",\"every_h\":24}]}", "cleaning[0].program");
	refused("{\"model\":\"m\",\"cleaning\":[{\"program\":\"descale\",\"every_h\":24,\"every_l\":300}]}",
	        "one of them");
	refused("{\"model\":\"m\",\"cleaning\":[{\"program\":\"descale\",\"every_l\":0}]}", "every_l");
	refused("{\"model\":\"m\",\"cleaning\":[{\"program\":\"milk_system\",\"every_h\":24,\"grace_h\":25}]}", "grace_h");
	refused("{\"model\":\"m\",\"cleaning\":[{\"program\":\"rinse\",\"every_h\":2},{\"program\":\"rinse\",\"every_h\":3}]}",
	        "has a schedule already");
	refused("{\"model\":\"m\",\"name\":\"a\\u0007b\",\"cleaning\":[]}", "control");
	/* A key that is not a slug is not echoed. */
	refused("{\"model\":\"m\",\"<script>\":1}", "a member that is not part");
}

int main(void)
{
	RUN(test_defaults_parse);
	RUN(test_judge);
	RUN(test_refused);
	return check_summary();
}
