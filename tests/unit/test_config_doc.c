/* test_config_doc.c - remote configuration documents: the schema's products
 * are the catalogue's, ranges and unknown members refused with the member
 * named, prices refused by the privacy filter, one canonical form. */
#include <string.h>

#include "check.h"
#include "common/err.h"
#include "fleet/config_doc.h"
#include "fleet/machine_config.h"
#include "ingest/catalogue.h"
#include "ingest/privacy.h"

static struct config_doc doc;

static int parse(const char *model, const char *text, char *why, int *privacy)
{
	return config_doc_parse(model, text, strlen(text), &doc, privacy, why, CONFIG_WHY_MAX);
}

static void test_products_in_catalogue(void)
{
	const struct catalogue_event *brew = catalogue_find_event("brew");
	const struct catalogue_field *product = catalogue_find_field(brew, "product");
	const char *const *p;
	size_t i;
	int found;

	CHECK(product != NULL);
	for (p = config_model_products("barista-pro"); *p != NULL; p++) {
		found = 0;
		for (i = 0; product->values[i] != NULL; i++)
			found |= strcmp(product->values[i], *p) == 0;
		CHECK(found);
	}
	for (p = config_model_products("espresso-one"); *p != NULL; p++)
		CHECK(catalogue_field_accepts_string(product, *p, strlen(*p)));
}

static void test_valid_and_canonical(void)
{
	char why[CONFIG_WHY_MAX], *text;
	int privacy;

	CHECK_EQ(parse("barista-pro",
	               "{\"settings\":{\"panel_language\":\"hu\",\"standby_min\":30},"
	               "\"recipes\":{\"cappuccino\":{\"milk_foam_ratio\":0.6,\"water_ml\":40},"
	               "\"espresso\":{\"water_ml\":30,\"grounds_g\":8.5,\"brew_temp_c\":93,\"size_scaling_pct\":100}}}",
	               why, &privacy),
	         CC_OK);
	CHECK_EQ(doc.nrecipes, 2);
	CHECK_STR(doc.recipes[0].product, "espresso"); /* the model's product order */
	text = config_doc_text(&doc);
	CHECK(text != NULL);
	CHECK_STR(text, "{\"recipes\":{\"cappuccino\":{\"milk_foam_ratio\":0.6,\"water_ml\":40},"
	                "\"espresso\":{\"brew_temp_c\":93.0,\"grounds_g\":8.5,\"size_scaling_pct\":100,\"water_ml\":30}},"
	                "\"settings\":{\"panel_language\":\"hu\",\"standby_min\":30}}");
	/* The canonical text parses to itself. */
	{
		struct config_doc again;
		char *text2;

		CHECK_EQ(config_doc_parse("barista-pro", text, strlen(text), &again, NULL, why, sizeof(why)), CC_OK);
		text2 = config_doc_text(&again);
		CHECK(text2 != NULL && strcmp(text, text2) == 0);
		free(text2);
	}
	free(text);
}

static void test_refusals(void)
{
	char why[CONFIG_WHY_MAX];
	int privacy;

	CHECK_EQ(parse("espresso-one", "{\"recipes\":{\"espresso\":{\"water_ml\":900}}}", why, &privacy), CC_ERR_INVALID);
	CHECK_STR(why, "recipes.espresso.water_ml: out of range 5..500 ml");
	CHECK_EQ(privacy, 0);
	CHECK_EQ(parse("espresso-one", "{\"recipes\":{\"espresso\":{\"size_scaling_pct\":151}}}", why, NULL),
	         CC_ERR_INVALID);
	CHECK(strstr(why, "recipes.espresso.size_scaling_pct: out of range 50..150") == why);
	CHECK_EQ(parse("espresso-one", "{\"recipes\":{\"espresso\":{\"size_scaling_pct\":49}}}", why, NULL),
	         CC_ERR_INVALID);
	CHECK_EQ(parse("espresso-one", "{\"recipes\":{\"espresso\":{\"water_ml\":30.5}}}", why, NULL), CC_ERR_INVALID);
	CHECK_STR(why, "recipes.espresso.water_ml: an integer is required");
	CHECK_EQ(parse("espresso-one", "{\"recipes\":{\"espresso\":{\"flavour\":1}}}", why, NULL), CC_ERR_INVALID);
	CHECK_STR(why, "recipes.espresso.flavour: unknown field");
	CHECK_EQ(parse("espresso-one", "{\"colour\":\"red\"}", why, NULL), CC_ERR_INVALID);
	CHECK_STR(why, "colour: unknown field");
	CHECK_EQ(parse("espresso-one", "{\"recipes\":{\"cappuccino\":{\"water_ml\":40}}}", why, NULL), CC_ERR_INVALID);
	CHECK_STR(why, "recipes.cappuccino: not a product of this model");
	CHECK_EQ(parse("espresso-one", "{\"settings\":{\"steam_temp_c\":125}}", why, NULL), CC_ERR_INVALID);
	CHECK_STR(why, "settings.steam_temp_c: this model has no milk system");
	CHECK_EQ(parse("barista-pro", "{\"recipes\":{\"espresso\":{\"milk_foam_ratio\":0.5}}}", why, NULL),
	         CC_ERR_INVALID);
	CHECK_EQ(parse("barista-pro", "{\"settings\":{\"panel_language\":\"klingon\"}}", why, NULL), CC_ERR_INVALID);
	CHECK_STR(why, "settings.panel_language: not one of the allowed values");
	CHECK_EQ(parse("barista-pro", "{}", why, NULL), CC_ERR_INVALID);
	CHECK_EQ(parse("barista-pro", "[]", why, NULL), CC_ERR_INVALID);
	CHECK_EQ(parse("barista-pro", "{\"recipes\":{\"espresso\":{}}}", why, NULL), CC_ERR_INVALID);
	CHECK_EQ(parse("barista-pro", "{\"settings\":{\"standby_min\":1,\"standby_min\":2}}", why, NULL),
	         CC_ERR_INVALID);
	/* A name that is not a slug is not echoed. */
	CHECK_EQ(parse("barista-pro", "{\"recipes\":{\"<b>x\":{\"water_ml\":1}}}", why, NULL), CC_ERR_INVALID);
	CHECK(strstr(why, "<b>") == NULL);
}

static void test_no_prices(void)
{
	static const char *const priced[] = {
		"{\"recipes\":{\"espresso\":{\"water_ml\":30,\"price\":2.5}}}",
		"{\"recipes\":{\"espresso\":{\"water_ml\":30}},\"currency\":\"EUR\"}",
		"{\"settings\":{\"paymentTerminal\":true}}",
		"{\"settings\":{\"unit_price_eur\":1}}",
		"{\"recipes\":{\"espresso\":{\"water_ml\":4111111111111111}}}",
	};
	char why[CONFIG_WHY_MAX];
	size_t i;
	int privacy;

	for (i = 0; i < sizeof(priced) / sizeof(priced[0]); i++) {
		privacy = 0;
		CHECK_EQ(parse("barista-pro", priced[i], why, &privacy), CC_ERR_INVALID);
		CHECK(privacy == PRIVACY_FINANCIAL_KEY || privacy == PRIVACY_CARD_NUMBER);
		CHECK(strstr(why, "refused by the privacy filter") == why);
	}
}

static void test_satisfies(void)
{
	static struct config_doc want, got;
	char why[CONFIG_WHY_MAX], where[CONFIG_WHY_MAX];
	static const char w[] = "{\"recipes\":{\"espresso\":{\"water_ml\":30}},\"settings\":{\"standby_min\":30}}";
	static const char g[] = "{\"recipes\":{\"espresso\":{\"water_ml\":30,\"grounds_g\":8},"
	                        "\"lungo\":{\"water_ml\":110}},\"settings\":{\"standby_min\":30,\"rinse_every_h\":8}}";
	static const char d[] = "{\"recipes\":{\"espresso\":{\"water_ml\":32}},\"settings\":{\"standby_min\":30}}";

	CHECK_EQ(config_doc_parse("espresso-one", w, strlen(w), &want, NULL, why, sizeof(why)), CC_OK);
	CHECK_EQ(config_doc_parse("espresso-one", g, strlen(g), &got, NULL, why, sizeof(why)), CC_OK);
	CHECK(config_doc_satisfies(&got, &want, where, sizeof(where)));
	CHECK_EQ(config_doc_parse("espresso-one", d, strlen(d), &got, NULL, why, sizeof(why)), CC_OK);
	CHECK(!config_doc_satisfies(&got, &want, where, sizeof(where)));
	CHECK_STR(where, "recipes.espresso.water_ml");
}

static void test_report(void)
{
	static struct config_report r;
	char why[CONFIG_WHY_MAX];
	int privacy;
	static const char ok[] = "{\"version\":3,\"state\":\"applied\",\"config\":{\"settings\":{\"standby_min\":30}}}";
	static const char no[] = "{\"version\":4,\"state\":\"rejected\",\"reason\":\"grinder cannot dose 30 g\"}";
	static const char bad[] = "{\"version\":4,\"state\":\"applied\"}";
	static const char fin[] = "{\"version\":4,\"state\":\"applied\",\"config\":{\"settings\":{\"price\":1}}}";

	CHECK_EQ(config_report_parse("espresso-one", (const uint8_t *)ok, strlen(ok), &r, &privacy, why, sizeof(why)),
	         CC_OK);
	CHECK(r.version == 3 && !r.rejected && r.has_config && r.config.has == 1u << CS_STANDBY);
	CHECK_EQ(config_report_parse("espresso-one", (const uint8_t *)no, strlen(no), &r, &privacy, why, sizeof(why)),
	         CC_OK);
	CHECK(r.version == 4 && r.rejected && !r.has_config);
	CHECK_STR(r.reason, "grinder cannot dose 30 g");
	CHECK_EQ(config_report_parse("espresso-one", (const uint8_t *)bad, strlen(bad), &r, &privacy, why, sizeof(why)),
	         CC_ERR_INVALID);
	CHECK_EQ(config_report_parse("espresso-one", (const uint8_t *)fin, strlen(fin), &r, &privacy, why, sizeof(why)),
	         CC_ERR_INVALID);
	CHECK_EQ(privacy, PRIVACY_FINANCIAL_KEY);
}

static void test_status(void)
{
	static struct config_doc want;
	static struct config_report rep;
	char why[CONFIG_WHY_MAX], where[CONFIG_WHY_MAX];
	static const char w[] = "{\"settings\":{\"standby_min\":30}}";

	CHECK_EQ(config_doc_parse("espresso-one", w, strlen(w), &want, NULL, why, sizeof(why)), CC_OK);
	CHECK_STR(machine_config_status(0, &want, NULL, where, sizeof(where)), "unset");
	CHECK_STR(machine_config_status(2, &want, NULL, where, sizeof(where)), "pending");
	memset(&rep, 0, sizeof(rep));
	rep.version = 1;
	rep.has_config = 1;
	rep.config = want;
	CHECK_STR(machine_config_status(2, &want, &rep, where, sizeof(where)), "pending");
	rep.version = 2;
	CHECK_STR(machine_config_status(2, &want, &rep, where, sizeof(where)), "in_sync");
	rep.config.settings[CS_STANDBY] = 5;
	CHECK_STR(machine_config_status(2, &want, &rep, where, sizeof(where)), "drifted");
	CHECK_STR(where, "settings.standby_min");
	rep.rejected = 1;
	CHECK_STR(machine_config_status(2, &want, &rep, where, sizeof(where)), "rejected");
	/* A refusal of an older version while a newer one waits: still pending. */
	rep.version = 1;
	CHECK_STR(machine_config_status(2, &want, &rep, where, sizeof(where)), "pending");
}

static void test_schema(void)
{
	json_t *s = config_schema_json("espresso-one");

	CHECK(s != NULL);
	CHECK(json_object_get(json_object_get(s, "settings"), "steam_temp_c") == NULL);
	CHECK(json_object_get(json_object_get(s, "recipe"), "size_scaling_pct") != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(s, "settings"), "rinse_every_h"),
	                                            "class")),
	          "service");
	json_decref(s);
}

int main(void)
{
	RUN(test_products_in_catalogue);
	RUN(test_valid_and_canonical);
	RUN(test_refusals);
	RUN(test_no_prices);
	RUN(test_satisfies);
	RUN(test_report);
	RUN(test_status);
	RUN(test_schema);
	return check_summary();
}
