/* haccp_page.c - the printable page of a HACCP cleaning report (haccp.h):
 * what a browser prints to paper or PDF. The signed artefact is the CSV;
 * the page shows the same rows, the signatures and how to check them. */
#include "quality/haccp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One inline style (the page's CSP allows exactly its hash): A4, tables
 * that repeat their heads across pages, signatures small and wrapping. */
static const char style[] =
	"body{font:10pt/1.35 system-ui,sans-serif;color:#111;margin:2em auto;max-width:60em;padding:0 1em}"
	"h1{font-size:16pt;margin:0 0 .3em}h2{font-size:12pt;margin:1.4em 0 .3em}h3{font-size:10.5pt;margin:1em 0 .3em}"
	"table{border-collapse:collapse;width:100%;margin:.3em 0 .8em}"
	"th,td{border:1px solid #999;padding:.2em .4em;text-align:left;vertical-align:top}"
	"th{background:#eee}.meta th{width:12em}.sig{font:7pt/1.2 monospace;word-break:break-all}"
	".t{white-space:nowrap}.bad{font-weight:bold}.missed td{background:#fde8e8}code,pre{font:8.5pt monospace}"
	"pre{white-space:pre-wrap;border:1px solid #ccc;padding:.5em}"
	"@page{size:A4;margin:14mm}"
	"@media print{body{margin:0;max-width:none;padding:0}thead{display:table-header-group}"
	"tr{break-inside:avoid}h2,h3{break-after:avoid}.noprint{display:none}th{background:#eee!important;"
	"-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

const char *haccp_page_style(void)
{
	return style;
}

/* Text into HTML: every character that could open markup is escaped. */
static void text(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static void cell(FILE *f, const char *s)
{
	fputs("<td>", f);
	text(f, s);
	fputs("</td>", f);
}

/* A time: never broken across lines. */
static void time_cell(FILE *f, const char *s)
{
	fputs("<td class=\"t\">", f);
	text(f, s);
	fputs("</td>", f);
}

static void meta(FILE *f, const char *name, const char *value, const char *cls)
{
	fputs("<tr><th>", f);
	text(f, name);
	fprintf(f, "</th><td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	text(f, value);
	fputs("</td></tr>\n", f);
}

static int of_machine(const json_t *item, const char *serial)
{
	return strcmp(str(item, "serial"), serial) == 0;
}

static void machine_section(FILE *f, const json_t *report, const char *serial)
{
	const json_t *item;
	size_t i, n = 0;
	char num[32];

	fputs("<section><h2>Machine ", f);
	text(f, serial);
	fputs("</h2>\n<h3>Cleanings</h3>\n", f);
	json_array_foreach(json_object_get(report, "records"), i, item)
		n += of_machine(item, serial);
	if (n == 0) {
		fputs("<p>No cleaning recorded in the period.</p>\n", f);
	} else {
		fputs("<table><thead><tr><th>Local time</th><th>UTC</th><th>Program</th><th>Result</th>"
		      "<th>Duration (s)</th><th>Record</th><th>Signature (Ed25519)</th></tr></thead><tbody>\n", f);
		json_array_foreach(json_object_get(report, "records"), i, item) {
			json_t *d = json_object_get(item, "duration_s");

			if (!of_machine(item, serial))
				continue;
			fputs("<tr>", f);
			time_cell(f, str(item, "time_local"));
			time_cell(f, str(item, "time_utc"));
			cell(f, str(item, "program"));
			fprintf(f, "<td%s>", strcmp(str(item, "result"), "ok") != 0 ? " class=\"bad\"" : "");
			text(f, str(item, "result"));
			fputs("</td>", f);
			if (json_is_integer(d))
				snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(d));
			else if (json_is_real(d))
				snprintf(num, sizeof(num), "%.1f", json_real_value(d));
			else
				num[0] = '\0';
			cell(f, num);
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(item, "seq")));
			cell(f, num);
			fputs("<td class=\"sig\">", f);
			text(f, str(item, "signature"));
			fputs("</td></tr>\n", f);
		}
		fputs("</tbody></table>\n", f);
	}
	fputs("<h3>Due and missed (the model's rule set)</h3>\n<table><thead><tr><th>Program</th><th>Schedule</th>"
	      "<th>Done</th><th>Due</th><th>Missed</th><th>Last cleaning (UTC)</th></tr></thead><tbody>\n", f);
	json_array_foreach(json_object_get(report, "schedule"), i, item) {
		json_t *last = json_object_get(item, "last_ms");
		char when[40] = "none";

		if (!of_machine(item, serial))
			continue;
		if (json_is_integer(last)) {
			time_t t = (time_t)(json_integer_value(last) / 1000);
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		}
		fprintf(f, "<tr%s>", json_integer_value(json_object_get(item, "missed")) > 0 ? " class=\"missed\"" : "");
		cell(f, str(item, "program"));
		cell(f, str(item, "rule"));
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(item, "done")));
		cell(f, num);
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(item, "due")));
		cell(f, num);
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(item, "missed")));
		cell(f, num);
		time_cell(f, when);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	n = 0;
	json_array_foreach(json_object_get(report, "missed"), i, item)
		n += of_machine(item, serial);
	if (n > 0) {
		fputs("<table><thead><tr><th>Missed program</th><th>Overdue from (local)</th><th>Until (local)</th>"
		      "<th>Signature (Ed25519)</th></tr></thead><tbody>\n", f);
		json_array_foreach(json_object_get(report, "missed"), i, item) {
			if (!of_machine(item, serial))
				continue;
			fputs("<tr class=\"missed\">", f);
			cell(f, str(item, "program"));
			time_cell(f, str(item, "time_local"));
			time_cell(f, str(item, "until_local"));
			fputs("<td class=\"sig\">", f);
			text(f, str(item, "signature"));
			fputs("</td></tr>\n", f);
		}
		fputs("</tbody></table>\n", f);
	}
	fputs("</section>\n", f);
}

char *haccp_report_html(const json_t *report)
{
	char *out = NULL;
	size_t len = 0, i;
	const json_t *s;
	char period[96], count[48];
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		return NULL;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width\"><title>HACCP cleaning report: ", f);
	text(f, str(report, "site"));
	fprintf(f, "</title><style>%s</style></head><body>\n<h1>HACCP cleaning report</h1>\n<table class=\"meta\">\n",
	        style);
	meta(f, "Customer", str(report, "customer"), NULL);
	meta(f, "Site", str(report, "site"), NULL);
	meta(f, "Time zone", str(report, "timezone"), NULL);
	snprintf(period, sizeof(period), "%s to %s (UTC; the end excluded)", str(report, "from_utc"),
	         str(report, "to_utc"));
	meta(f, "Period", period, NULL);
	snprintf(count, sizeof(count), "%zu cleanings, %zu missed", json_array_size(json_object_get(report, "records")),
	         json_array_size(json_object_get(report, "missed")));
	meta(f, "Records", count, NULL);
	meta(f, "Format", str(report, "format"), NULL);
	meta(f, "Signing key id (SHA-256)", str(report, "key_id"), "sig");
	meta(f, "Report signature (Ed25519)", str(report, "signature"), "sig");
	fputs("</table>\n", f);
	json_array_foreach(json_object_get(report, "machines"), i, s)
		machine_section(f, report, json_string_value(s));
	if (json_array_size(json_object_get(report, "machines")) == 0)
		fputs("<p>The site has no machines.</p>\n", f);
	fputs("<section><h2>How to verify</h2><p>The signed original of this report is its CSV download "
	      "(<code>format=csv</code>) with its signature (<code>format=sig</code>); the public key is published at "
	      "<code>/api/v1/signing-key?format=pem</code>. With nothing but <code>openssl</code> and coreutils:</p>"
	      "<pre>base64 -d report.csv.sig &gt; report.sig\n"
	      "openssl pkeyutl -verify -pubin -inkey signing-key.pem -rawin -in report.csv -sigfile report.sig</pre>"
	      "<p>A report with a row removed, added or edited fails. Each row of the CSV carries its own signature "
	      "over the row without its last column; the steps for both are in the manual (docs/QUALITY.md).</p>"
	      "</section>\n</body></html>\n",
	      f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
