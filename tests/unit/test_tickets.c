/* Service tickets (fleet/tickets.h): the state machine - which side makes
 * which step - every pair of states checked against the table of
 * docs/OPERATIONS.md "Service tickets", and the checks of texts and
 * service reports (shape, the notes filter; nothing of a refused text is
 * handed back). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "common/err.h"
#include "fleet/tickets.h"
#include "ingest/privacy.h"

static const char *const states[] = { "open", "assigned", "in_progress", "waiting_customer", "resolved", "closed" };
#define N (sizeof(states) / sizeof(states[0]))

/* The allowed steps, written out as the documentation states them. */
static int documented(const char *from, const char *to, enum ticket_side side)
{
	int service = side == TICKET_SERVICE;

	if (strcmp(from, "assigned") == 0)
		return service && (!strcmp(to, "in_progress") || !strcmp(to, "waiting_customer") || !strcmp(to, "resolved"));
	if (strcmp(from, "in_progress") == 0)
		return service && (!strcmp(to, "waiting_customer") || !strcmp(to, "resolved"));
	if (strcmp(from, "waiting_customer") == 0)
		return !strcmp(to, "in_progress") || (service && !strcmp(to, "resolved"));
	if (strcmp(from, "resolved") == 0 || strcmp(from, "closed") == 0)
		return !strcmp(to, "open");
	return 0; /* open: only an assignment moves it */
}

static void test_every_step_of_each_side(void)
{
	size_t i, k;

	for (i = 0; i < N; i++)
		for (k = 0; k < N; k++) {
			CHECK_EQ(tickets_transition_allowed(states[i], states[k], TICKET_SERVICE),
			         documented(states[i], states[k], TICKET_SERVICE));
			CHECK_EQ(tickets_transition_allowed(states[i], states[k], TICKET_CUSTOMER),
			         documented(states[i], states[k], TICKET_CUSTOMER));
		}
	/* Nothing reaches assigned or closed by a state change: they have their own steps. */
	for (i = 0; i < N; i++) {
		CHECK(!tickets_transition_allowed(states[i], "assigned", TICKET_SERVICE));
		CHECK(!tickets_transition_allowed(states[i], "closed", TICKET_SERVICE));
	}
	CHECK(!tickets_transition_allowed("open", "bogus", TICKET_SERVICE));
	CHECK(!tickets_transition_allowed(NULL, "open", TICKET_SERVICE));
	CHECK(!tickets_state_valid("Open"));
	CHECK(tickets_state_valid("waiting_customer"));
}

static void test_who_closes_when(void)
{
	CHECK(!tickets_close_allowed("open", TICKET_SERVICE)); /* assign it first */
	CHECK(tickets_close_allowed("assigned", TICKET_SERVICE));
	CHECK(tickets_close_allowed("in_progress", TICKET_SERVICE));
	CHECK(tickets_close_allowed("waiting_customer", TICKET_SERVICE));
	CHECK(tickets_close_allowed("resolved", TICKET_SERVICE));
	CHECK(!tickets_close_allowed("closed", TICKET_SERVICE));
	CHECK(!tickets_close_allowed("resolved", TICKET_CUSTOMER));
	CHECK(!tickets_close_allowed("in_progress", TICKET_CUSTOMER));
}

static void test_texts(void)
{
	char longer[TICKET_TITLE_MAX + 2];
	int privacy;

	CHECK_EQ(tickets_text_check("Grinder noisy", TICKET_TITLE_MAX, 0, &privacy), CC_OK);
	CHECK_EQ(tickets_text_check("", TICKET_TITLE_MAX, 0, &privacy), CC_ERR_INVALID);
	CHECK_EQ(tickets_text_check(NULL, TICKET_TEXT_MAX, 1, &privacy), CC_OK);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	CHECK_EQ(tickets_text_check(longer, TICKET_TITLE_MAX, 0, &privacy), CC_ERR_INVALID);
	CHECK_EQ(privacy, PRIVACY_NONE);
	/* 120 two-byte characters are 120 characters. */
	{
		char wide[2 * TICKET_TITLE_MAX + 1];
		size_t i;

		for (i = 0; i < TICKET_TITLE_MAX; i++)
			memcpy(wide + 2 * i, "\xc3\xa9", 2);
		wide[2 * TICKET_TITLE_MAX] = '\0';
		CHECK_EQ(tickets_text_check(wide, TICKET_TITLE_MAX, 0, &privacy), CC_OK);
	}
	CHECK_EQ(tickets_text_check("paid with 4111 1111 1111 1111", TICKET_TEXT_MAX, 0, &privacy), CC_ERR_INVALID);
	CHECK_EQ(privacy, PRIVACY_CARD_NUMBER);
	CHECK_EQ(tickets_text_check("write to carl at example dot com", TICKET_TEXT_MAX, 0, &privacy), CC_ERR_INVALID);
	CHECK_EQ(privacy, PRIVACY_EMAIL);
	CHECK_EQ(tickets_text_check("ask Mrs Smith at the bar", TICKET_TEXT_MAX, 0, &privacy), CC_ERR_INVALID);
	CHECK_EQ(privacy, PRIVACY_PERSON_NAME);
}

static void report(const char *json, int want_rc, const char *want_field, int want_privacy, const char *want_kept)
{
	json_t *doc = json_loads(json, 0, NULL);
	struct ticket_refusal why = { NULL, PRIVACY_NONE };
	char *kept = NULL;
	int rc;

	CHECK(doc != NULL);
	rc = tickets_report_check(doc, &why, &kept);
	CHECK_EQ(rc, want_rc);
	if (want_field != NULL)
		CHECK(why.field != NULL && strcmp(why.field, want_field) == 0);
	CHECK_EQ(why.privacy, want_privacy);
	if (want_kept != NULL)
		CHECK(kept != NULL && strcmp(kept, want_kept) == 0);
	else
		CHECK(kept == NULL);
	free(kept);
	json_decref(doc);
}

static void test_service_reports(void)
{
	report("{\"work\": \"New burrs\", \"parts\": [\"BUR-6402-64\", \"burr screw\"], \"counters_reset\": [\"grinder_burrs\"]}",
	       CC_OK, NULL, PRIVACY_NONE,
	       "{\"counters_reset\":[\"grinder_burrs\"],\"parts\":[\"BUR-6402-64\",\"burr screw\"],\"work\":\"New burrs\"}");
	report("{\"work\": \"Descaled\"}", CC_OK, NULL, PRIVACY_NONE,
	       "{\"counters_reset\":[],\"parts\":[],\"work\":\"Descaled\"}");
	report("{}", CC_ERR_INVALID, "work", PRIVACY_NONE, NULL);
	report("{\"work\": \"x\", \"price\": 12}", CC_ERR_INVALID, "report", PRIVACY_NONE, NULL);
	report("{\"work\": \"x\", \"parts\": \"GSK-58\"}", CC_ERR_INVALID, "parts", PRIVACY_NONE, NULL);
	report("{\"work\": \"x\", \"parts\": [17]}", CC_ERR_INVALID, "parts", PRIVACY_NONE, NULL);
	report("{\"work\": \"x\", \"counters_reset\": [\"odometer\"]}", CC_ERR_INVALID, "counters_reset", PRIVACY_NONE, NULL);
	report("{\"work\": \"told carl@example.com\"}", CC_ERR_INVALID, "work", PRIVACY_EMAIL, NULL);
	report("{\"work\": \"x\", \"parts\": [\"card 4111 1111 1111 1111\"]}", CC_ERR_INVALID, "parts", PRIVACY_CARD_NUMBER,
	       NULL);
	{
		char big[400];
		int n = snprintf(big, sizeof(big), "{\"work\": \"x\", \"parts\": [");

		for (int i = 0; i <= TICKET_PARTS_MAX; i++)
			n += snprintf(big + n, sizeof(big) - (size_t)n, "%s\"GSK-%d\"", i ? "," : "", i + 1);
		snprintf(big + n, sizeof(big) - (size_t)n, "]}");
		report(big, CC_ERR_INVALID, "parts", PRIVACY_NONE, NULL);
	}
}

int main(void)
{
	RUN(test_every_step_of_each_side);
	RUN(test_who_closes_when);
	RUN(test_texts);
	RUN(test_service_reports);
	return check_summary();
}
