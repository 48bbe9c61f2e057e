#include "notify/mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/codec.h"
#include "common/err.h"

/*
 * The words. {name} is replaced by the notification's data field of that
 * name (escaped in HTML); a field that is absent reads as "-". A kind not
 * listed uses the "" row.
 */
struct words {
	const char *kind, *lang, *subject, *text;
};

static const struct words table[] = {
	{ "test", "en", "CoffeeCloud test notification",
	  "This is a test notification for {org}.\n\n{text}" },
	{ "test", "hu", "CoffeeCloud tesztértesítés",
	  "Ez egy tesztértesítés a(z) {org} szervezet számára.\n\n{text}" },
	{ "alert.opened", "en", "Alert on {serial}: {title}",
	  "Machine {serial} at site {site} raised an alert.\n\nSeverity: {severity}\nAlert: {title}\nSince: {opened_at}" },
	{ "alert.opened", "hu", "Riasztás – {serial}: {title}",
	  "A(z) {serial} gép ({site} telephely) riasztást jelzett.\n\nSúlyosság: {severity}\nRiasztás: {title}\n"
	  "Kezdete: {opened_at}" },
	{ "alert.resolved", "en", "Resolved on {serial}: {title}",
	  "The alert on machine {serial} at site {site} is resolved.\n\nAlert: {title}\nResolved: {resolved_at}" },
	{ "alert.resolved", "hu", "Megszűnt – {serial}: {title}",
	  "A(z) {serial} gép ({site} telephely) riasztása megszűnt.\n\nRiasztás: {title}\nMegszűnt: {resolved_at}" },
	{ "alert.escalated", "en", "Unacknowledged alert on {serial}: {title}",
	  "The alert on machine {serial} at site {site} has not been acknowledged and now comes to you.\n\n"
	  "Severity: {severity}\nAlert: {title}\nSince: {opened_at}" },
	{ "alert.escalated", "hu", "Nyugtázatlan riasztás – {serial}: {title}",
	  "A(z) {serial} gép ({site} telephely) riasztását senki sem nyugtázta, ezért most Önhöz kerül.\n\n"
	  "Súlyosság: {severity}\nRiasztás: {title}\nKezdete: {opened_at}" },
	{ "webhook.disabled", "en", "A webhook endpoint was disabled",
	  "Webhook endpoint {webhook_id} failed {failed_messages} notifications in a row and was disabled.\n"
	  "Check the receiver, then enable it again (coffeecloud webhook enable {webhook_id})." },
	{ "webhook.disabled", "hu", "Egy webhook-végpont letiltásra került",
	  "A(z) {webhook_id} webhook-végpont egymás után {failed_messages} értesítést nem fogadott, ezért letiltottuk.\n"
	  "Ellenőrizze a fogadót, majd engedélyezze újra (coffeecloud webhook enable {webhook_id})." },
	{ "ticket.opened", "en", "Service ticket {ticket_id} on {serial}",
	  "A service ticket was opened for machine {serial} at site {site}.\n\nTicket: {ticket_id}\nOpened: {opened_at}" },
	{ "ticket.opened", "hu", "Szervizjegy ({ticket_id}) – {serial}",
	  "Szervizjegy nyílt a(z) {serial} géphez ({site} telephely).\n\nJegy: {ticket_id}\nMegnyitva: {opened_at}" },
	{ "ticket.assigned", "en", "Service ticket {ticket_id} on {serial} assigned to {assignee}",
	  "Service ticket {ticket_id} for machine {serial} at site {site} is assigned to {assignee}." },
	{ "ticket.assigned", "hu", "Szervizjegy ({ticket_id}) – {serial}: felelős {assignee}",
	  "A(z) {serial} gép ({site} telephely) {ticket_id}. szervizjegyének felelőse: {assignee}." },
	{ "ticket.closed", "en", "Service ticket {ticket_id} on {serial} closed",
	  "Service ticket {ticket_id} for machine {serial} at site {site} is closed with a service report." },
	{ "ticket.closed", "hu", "Szervizjegy ({ticket_id}) lezárva – {serial}",
	  "A(z) {serial} gép ({site} telephely) {ticket_id}. szervizjegyét szervizjelentéssel lezárták." },
	{ "", "en", "CoffeeCloud notification: {type}", "A {type} notification from CoffeeCloud." },
	{ "", "hu", "CoffeeCloud értesítés: {type}", "{type} értesítés a CoffeeCloudtól." },
};

static const char *const footer_en = "You receive this because of your notification settings in CoffeeCloud.";
static const char *const footer_hu = "Ezt az üzenetet a CoffeeCloud értesítési beállításai miatt kapja.";

static const struct words *words_for(const char *kind, const char *lang)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].kind, kind) == 0 && strcmp(table[i].lang, lang) == 0)
			return &table[i];
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].kind[0] == '\0' && strcmp(table[i].lang, lang) == 0)
			return &table[i];
	return &table[sizeof(table) / sizeof(table[0]) - 2]; /* English */
}

int mail_address_ok(const char *addr)
{
	const char *at = strchr(addr, '@');
	size_t n = strlen(addr), i;

	if (n < 3 || n > 254 || at == NULL || at == addr || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)addr[i] <= 0x20 || (unsigned char)addr[i] >= 0x7f || strchr("<>\"(),;:\\[]", addr[i]))
			return 0;
	return 1;
}

/* A growable string. */
struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_html(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '<': puts_(b, "&lt;"); break;
		case '>': puts_(b, "&gt;"); break;
		case '&': puts_(b, "&amp;"); break;
		case '"': puts_(b, "&quot;"); break;
		case '\'': puts_(b, "&#39;"); break;
		case '\n': puts_(b, "<br>\n"); break;
		default: put(b, s + i, 1);
		}
	}
}

/* A data field as text: strings as they are (control characters dropped),
 * numbers printed; absent or anything else "-". Bounded. */
static void field(const json_t *doc, const char *name, size_t n, char *out, size_t cap)
{
	const json_t *data = json_object_get(doc, "data");
	char key[64];
	const json_t *v;
	size_t i, j = 0;

	snprintf(key, sizeof(key), "%.*s", (int)(n < 63 ? n : 63), name);
	v = strcmp(key, "type") == 0 ? json_object_get(doc, "type") : json_object_get(data, key);
	if (strcmp(key, "title") == 0 && v == NULL)
		v = json_object_get(data, "title_key");
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		for (i = 0; s[i] && j + 1 < cap && i < 300; i++)
			if ((unsigned char)s[i] >= 0x20)
				out[j++] = s[i];
		out[j] = '\0';
	} else if (json_is_integer(v)) {
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	} else {
		snprintf(out, cap, "-");
	}
}

/* Expands {name} from the notification; html escapes values and text. */
static void expand(struct buf *b, const char *tpl, const json_t *doc, int html)
{
	const char *p = tpl;
	char value[320];

	while (*p) {
		const char *open = strchr(p, '{'), *close = open ? strchr(open, '}') : NULL;

		if (open == NULL || close == NULL) {
			html ? put_html(b, p, strlen(p)) : puts_(b, p);
			break;
		}
		html ? put_html(b, p, (size_t)(open - p)) : put(b, p, (size_t)(open - p));
		field(doc, open + 1, (size_t)(close - open - 1), value, sizeof(value));
		html ? put_html(b, value, strlen(value)) : puts_(b, value);
		p = close + 1;
	}
}

/* Base64 in lines of 76 characters (RFC 2045). */
static void put_b64(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += 57) {
		char line[80];
		size_t k = n - i < 57 ? n - i : 57;

		if (b64_encode((const uint8_t *)s + i, k, line, sizeof(line)) != CC_OK) {
			b->failed = 1;
			return;
		}
		puts_(b, line);
		puts_(b, "\r\n");
	}
}

int mail_compose(const char *from, const char *to, const char *language, const char *msg_id, const char *body,
                 int64_t now_ms, char **out, size_t *len)
{
	json_t *doc = json_loads(body, 0, NULL);
	const char *kind = json_string_value(json_object_get(doc, "type"));
	const char *lang = language && strcmp(language, "hu") == 0 ? "hu" : "en";
	const struct words *w;
	struct buf m = { 0 }, subject = { 0 }, text = { 0 }, html = { 0 };
	char date[64], line[512];
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

	if (doc == NULL || kind == NULL || !mail_address_ok(from) || !mail_address_ok(to)) {
		json_decref(doc);
		return CC_ERR_INVALID;
	}
	w = words_for(kind, lang);
	expand(&subject, w->subject, doc, 0);
	expand(&text, w->text, doc, 0);
	puts_(&text, "\n\n-- \n");
	puts_(&text, lang[0] == 'h' ? footer_hu : footer_en);
	puts_(&text, "\n");
	puts_(&html, "<!DOCTYPE html>\n<html lang=\"");
	puts_(&html, lang);
	puts_(&html, "\"><head><meta charset=\"utf-8\"><title>");
	expand(&html, w->subject, doc, 1);
	puts_(&html, "</title></head>\n<body>\n<h1>");
	expand(&html, w->subject, doc, 1);
	puts_(&html, "</h1>\n<p>");
	expand(&html, w->text, doc, 1);
	puts_(&html, "</p>\n<p><small>");
	put_html(&html, lang[0] == 'h' ? footer_hu : footer_en, strlen(lang[0] == 'h' ? footer_hu : footer_en));
	puts_(&html, "</small></p>\n</body></html>\n");

	gmtime_r(&t, &tm);
	snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	snprintf(line, sizeof(line), "From: CoffeeCloud <%s>\r\nTo: <%s>\r\nDate: %s\r\nMessage-ID: <%s@coffeecloud>\r\n",
	         from, to, date, msg_id);
	puts_(&m, line);
	puts_(&m, "Subject: =?UTF-8?B?");
	if (!subject.failed && subject.p != NULL) {
		/* One encoded word per 45 bytes keeps each under 75 characters. */
		size_t i = 0;

		while (i < subject.len) {
			char enc[64];
			size_t k = subject.len - i < 45 ? subject.len - i : 45;

			while (k > 1 && i + k < subject.len && ((unsigned char)subject.p[i + k] & 0xc0) == 0x80)
				k--; /* never split a UTF-8 character */
			if (b64_encode((const uint8_t *)subject.p + i, k, enc, sizeof(enc)) != CC_OK)
				m.failed = 1;
			if (i > 0)
				puts_(&m, "?=\r\n =?UTF-8?B?");
			puts_(&m, enc);
			i += k;
		}
	}
	puts_(&m, "?=\r\n");
	snprintf(line, sizeof(line), "Content-Language: %s\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
	         "Content-Type: multipart/alternative; boundary=\"=_%s\"\r\n\r\n", lang, msg_id);
	puts_(&m, line);
	snprintf(line, sizeof(line), "--=_%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	         "Content-Transfer-Encoding: base64\r\n\r\n", msg_id);
	puts_(&m, line);
	if (text.p != NULL)
		put_b64(&m, text.p, text.len);
	snprintf(line, sizeof(line), "--=_%s\r\nContent-Type: text/html; charset=utf-8\r\n"
	         "Content-Transfer-Encoding: base64\r\n\r\n", msg_id);
	puts_(&m, line);
	if (html.p != NULL)
		put_b64(&m, html.p, html.len);
	snprintf(line, sizeof(line), "--=_%s--\r\n", msg_id);
	puts_(&m, line);
	json_decref(doc);
	free(subject.p);
	free(text.p);
	free(html.p);
	if (m.failed || subject.failed || text.failed || html.failed) {
		free(m.p);
		return CC_ERR_NOMEM;
	}
	*out = m.p;
	*len = m.len;
	return CC_OK;
}
