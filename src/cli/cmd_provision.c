/* cmd_provision.c - `machine import|renew|certs|cert-validity`: a factory
 * line's CSV in batches, certificate renewal and the certificate audit. */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/ca.h"
#include "fleet/provision.h"

#define MOD "cli"
#define CSV_MAX (64 * 1024 * 1024)
#define CSV_ROWS_MAX 1000000
#define DEFAULT_BATCH 1000

static int parse_count(const char *what, const char *text, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
		log_error(MOD, "--%s must be a whole number %ld-%ld", what, lo, hi);
		return CC_ERR_INVALID;
	}
	*out = v;
	return CC_OK;
}

static int validity_of(struct cli_args *a, int *days)
{
	const char *text = cli_get(a, "validity-days");
	long d = 0;
	int rc = text != NULL ? parse_count("validity-days", text, 1, CA_DAYS_MAX, &d) : CC_OK;

	*days = (int)d;
	return rc;
}

/* The parsed CSV: rows point into the file's text and the CSRs read. */
struct import {
	char *text;
	struct provision_row *rows;
	char **csrs;
	unsigned char *wrote; /* per row: WROTE_* of its bundle, for undoing a failed batch */
	size_t n;
	struct provision_report rep; /* file-level issues (CSR files) */
	const char *out;
	char ca_path[VAULT_PATH_MAX]; /* OUT/ca.crt, once written: each bundle's ca.crt is a link to it */
	size_t done;
};

enum { WROTE_CERT = 1, WROTE_KEY = 2, WROTE_CA = 4 };
static const char *const bundle_files[] = { "machine.crt", "machine.key", "ca.crt" };

enum column { COL_SERIAL, COL_MODEL, COL_CUSTOMER, COL_SITE, COL_CSR, COLS };
static const char *const column_names[COLS] = { "serial", "model", "customer", "site", "csr" };

static void report_issue(struct provision_report *rep, long line, const char *field, const char *why)
{
	if (rep->n == PROVISION_ISSUES_MAX) {
		rep->more++;
		return;
	}
	rep->issues[rep->n].line = line;
	snprintf(rep->issues[rep->n].field, sizeof(rep->issues[0].field), "%s", field);
	snprintf(rep->issues[rep->n].why, sizeof(rep->issues[0].why), "%s", why);
	rep->n++;
}

/* Splits one line at commas, in place. Quotes are refused: no field of
 * this CSV (slugs, serials, file names) needs them. */
static int split_fields(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *comma = strchr(p, ',');
		char *end;

		if (n == max)
			return -1;
		if (comma != NULL)
			*comma = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (strchr(p, '"') != NULL)
			return -2;
		f[n++] = p;
		if (comma == NULL)
			return n;
		p = comma + 1;
	}
}

static int read_csr(struct import *im, size_t i, const char *dir, const char *name)
{
	char path[VAULT_PATH_MAX];
	unsigned char *pem = NULL;
	size_t len = 0;
	char why[120];

	if (dir != NULL && (strchr(name, '/') != NULL || strcmp(name, "..") == 0 || strcmp(name, ".") == 0)) {
		report_issue(&im->rep, im->rows[i].line, "csr", "with --csr-dir, give a file name in it");
		return CC_OK;
	}
	if ((dir != NULL ? file_join(path, sizeof(path), dir, name)
	                 : snprintf(path, sizeof(path), "%s", name) < (int)sizeof(path) ? CC_OK : CC_ERR_LIMIT)
	    != CC_OK || file_read_all(path, CA_CSR_MAX, &pem, &len) != CC_OK) {
		snprintf(why, sizeof(why), "cannot read the CSR file %.80s", name);
		report_issue(&im->rep, im->rows[i].line, "csr", why);
		return CC_OK;
	}
	im->csrs[i] = (char *)pem;
	im->rows[i].csr_pem = im->csrs[i];
	return CC_OK;
}

static int parse_csv(struct import *im, const char *file, const char *csr_dir)
{
	size_t len = 0, cap = 0;
	int col[COLS], i, nf;
	char *p, *line, *f[COLS + 1];
	long lineno = 0;
	int rc = file_read_all(file, CSV_MAX, (unsigned char **)&im->text, &len);

	if (rc != CC_OK)
		return rc;
	for (i = 0; i < COLS; i++)
		col[i] = -1;
	for (p = im->text; p != NULL && *p != '\0';) {
		line = p;
		p = strchr(p, '\n');
		if (p != NULL)
			*p++ = '\0';
		lineno++;
		if (line[strspn(line, " \t\r")] == '\0' || line[0] == '#')
			continue;
		nf = split_fields(line, f, COLS + 1);
		if (nf < 0) {
			report_issue(&im->rep, lineno, "line", nf == -1 ? "too many fields" : "quotes are not taken");
			continue;
		}
		if (col[COL_SERIAL] < 0) { /* the header */
			for (i = 0; i < nf; i++) {
				int c;

				for (c = 0; c < COLS && strcmp(f[i], column_names[c]) != 0; c++)
					;
				if (c == COLS || col[c] >= 0) {
					log_error(MOD, "%s line %ld: the header names serial,model,customer[,site][,csr] once each",
					          file, lineno);
					return CC_ERR_INVALID;
				}
				col[c] = i;
			}
			if (col[COL_SERIAL] < 0 || col[COL_MODEL] < 0 || col[COL_CUSTOMER] < 0) {
				log_error(MOD, "%s line %ld: the header needs serial, model and customer", file, lineno);
				return CC_ERR_INVALID;
			}
			continue;
		}
		if (im->n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			struct provision_row *rows = realloc(im->rows, ncap * sizeof(*rows));
			char **csrs;

			if (rows == NULL)
				return CC_ERR_NOMEM;
			im->rows = rows;
			csrs = realloc(im->csrs, ncap * sizeof(*csrs));
			if (csrs == NULL)
				return CC_ERR_NOMEM;
			im->csrs = csrs;
			cap = ncap;
		}
		if (im->n >= CSV_ROWS_MAX) {
			log_error(MOD, "%s: at most %d machines per file", file, CSV_ROWS_MAX);
			return CC_ERR_LIMIT;
		}
		memset(&im->rows[im->n], 0, sizeof(im->rows[0]));
		im->csrs[im->n] = NULL;
		im->rows[im->n].line = lineno;
		for (i = 0; i < COLS; i++) {
			const char *v = col[i] >= 0 && col[i] < nf ? f[col[i]] : NULL;

			if (v != NULL && v[0] == '\0')
				v = NULL;
			switch (i) {
			case COL_SERIAL: im->rows[im->n].serial = v; break;
			case COL_MODEL: im->rows[im->n].model = v; break;
			case COL_CUSTOMER: im->rows[im->n].customer = v; break;
			case COL_SITE: im->rows[im->n].site = v; break;
			}
		}
		if (nf > 0 && col[COL_CSR] >= 0 && col[COL_CSR] < nf && f[col[COL_CSR]][0] != '\0') {
			rc = read_csr(im, im->n, csr_dir, f[col[COL_CSR]]);
			if (rc != CC_OK)
				return rc;
		}
		im->n++;
	}
	if (col[COL_SERIAL] < 0) {
		log_error(MOD, "%s: no header line (serial,model,customer[,site][,csr])", file);
		return CC_ERR_INVALID;
	}
	return CC_OK;
}

/* A new file, not synced: a batch's files are synced together by
 * sync_bundles (one syncfs instead of two fsyncs per file). */
static int write_unsynced(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text), done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0) {
		log_error(MOD, "%s: %s", path, errno == EEXIST ? "exists already; refusing to overwrite" : strerror(errno));
		return errno == EEXIST ? CC_ERR_EXISTS : CC_ERR_IO;
	}
	if (fchmod(fd, mode) != 0)
		done = len + 1;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (done != len) {
		log_error(MOD, "%s: cannot write it", path);
		unlink(path);
		return CC_ERR_IO;
	}
	return CC_OK;
}

/* Before the batch commits: its bundles are on disk, or nothing is registered. */
static int sync_bundles(void *arg)
{
	struct import *im = arg;
	int fd = open(im->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = CC_OK;

	if (fd < 0 || syncfs(fd) != 0) {
		log_error(MOD, "%s: cannot sync the bundles: %s", im->out, strerror(errno));
		rc = CC_ERR_IO;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* OUT/SERIAL/machine.crt, machine.key (0600, generated keys only), ca.crt:
 * written before the batch commits, like `machine add`'s bundle. */
static int write_bundle(void *arg, size_t i, const struct machine_bundle *b)
{
	struct import *im = arg;
	unsigned char *wrote = &im->wrote[im->done + i];
	char dir[VAULT_PATH_MAX], path[VAULT_PATH_MAX];
	int rc;

	rc = file_join(dir, sizeof(dir), im->out, b->machine.serial);
	if (rc == CC_OK && im->ca_path[0] == '\0')
		rc = file_mkdirs(im->out, 0700);
	if (rc == CC_OK)
		rc = file_mkdirs(dir, 0700);
	if (rc == CC_OK)
		rc = file_join(path, sizeof(path), dir, "machine.crt");
	if (rc == CC_OK)
		rc = write_unsynced(path, b->cert_pem, 0644);
	if (rc == CC_OK)
		*wrote |= WROTE_CERT;
	if (rc == CC_OK && b->key_pem != NULL) {
		rc = file_join(path, sizeof(path), dir, "machine.key");
		if (rc == CC_OK)
			rc = write_unsynced(path, b->key_pem, 0600);
		if (rc == CC_OK)
			*wrote |= WROTE_KEY;
	}
	if (rc == CC_OK)
		rc = file_join(path, sizeof(path), dir, "ca.crt");
	/* One inode for every bundle's CA certificate: creating inodes is
	 * what a batch's files cost most. */
	if (rc == CC_OK && im->ca_path[0] == '\0') {
		rc = file_join(im->ca_path, sizeof(im->ca_path), im->out, "ca.crt");
		if (rc == CC_OK)
			rc = write_unsynced(im->ca_path, b->ca_pem, 0644);
		if (rc != CC_OK)
			im->ca_path[0] = '\0';
	}
	if (rc == CC_OK && link(im->ca_path, path) != 0) {
		log_error(MOD, "%s: %s", path, strerror(errno));
		rc = CC_ERR_IO;
	}
	if (rc == CC_OK)
		*wrote |= WROTE_CA;
	return rc;
}

/* A batch that did not commit leaves no bundle behind: only the files this
 * run wrote go (a directory is removed only when that leaves it empty). */
static void undo_bundles(struct import *im, size_t from, size_t n)
{
	char dir[VAULT_PATH_MAX], path[VAULT_PATH_MAX];
	size_t i, k;

	for (i = from; i < from + n; i++) {
		if (im->wrote[i] == 0 || file_join(dir, sizeof(dir), im->out, im->rows[i].serial) != CC_OK)
			continue;
		for (k = 0; k < 3; k++)
			if ((im->wrote[i] & (1u << k)) && file_join(path, sizeof(path), dir, bundle_files[k]) == CC_OK)
				unlink(path);
		rmdir(dir);
		im->wrote[i] = 0;
	}
}

static json_t *issues_json(const struct provision_report *rep)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; list != NULL && i < rep->n; i++)
		json_array_append_new(list, json_pack("{s:I, s:s, s:s}", "line", (json_int_t)rep->issues[i].line,
		                                      "field", rep->issues[i].field, "why", rep->issues[i].why));
	return list;
}

static void print_issues(const char *file, const struct provision_report *rep)
{
	size_t i;

	for (i = 0; i < rep->n; i++)
		fprintf(stderr, "%s line %ld: %s: %s\n", file, rep->issues[i].line, rep->issues[i].field,
		        rep->issues[i].why);
	if (rep->more > 0)
		fprintf(stderr, "%s: %zu more problems not shown\n", file, rep->more);
}

static void import_free(struct import *im)
{
	size_t i;

	for (i = 0; i < im->n; i++)
		free(im->csrs[i]);
	free(im->csrs);
	free(im->wrote);
	free(im->rows);
	free(im->text);
}

static int import_failed(struct cli_args *a, struct import *im, const char *file, int rc)
{
	if (a->json)
		cli_print_json(json_pack("{s:I, s:o, s:I}", "imported", (json_int_t)im->done, "errors",
		                         issues_json(&im->rep), "more_errors", (json_int_t)im->rep.more));
	print_issues(file, &im->rep);
	if (im->done > 0)
		fprintf(stderr, "%s: %zu machines were registered in earlier batches; nothing from line %ld on\n",
		        file, im->done, im->rows[im->done].line);
	else
		fprintf(stderr, "%s: nothing was registered\n", file);
	import_free(im);
	return rc;
}

int cli_run_machine_import(struct cli_args *a)
{
	struct import *im = calloc(1, sizeof(*im));
	struct provision_opts o;
	const char *file = cli_get(a, "csv");
	const char *batch_text = cli_get(a, "batch");
	long batch = DEFAULT_BATCH;
	size_t batches = 0;
	int64_t t0 = clock_now_ms();
	int rc;

	if (im == NULL)
		return CC_ERR_NOMEM;
	memset(&o, 0, sizeof(o));
	im->out = cli_get(a, "out");
	o.deliver = write_bundle;
	o.delivered = sync_bundles;
	o.ctx = im;
	rc = validity_of(a, &o.days);
	if (rc == CC_OK && batch_text != NULL)
		rc = parse_count("batch", batch_text, 1, PROVISION_BATCH_MAX, &batch);
	if (rc == CC_OK)
		rc = parse_csv(im, file, cli_get(a, "csr-dir"));
	/* Every row of the file is checked before the first batch is stored:
	 * one report names every bad line, and a bad file stores nothing. */
	if (rc == CC_OK && im->rep.n == 0 && im->rep.more == 0)
		rc = provision_check(a->vault, im->rows, im->n, &o, &im->rep);
	if (rc == CC_OK && (im->rep.n > 0 || im->rep.more > 0))
		rc = CC_ERR_INVALID;
	if (rc == CC_OK && im->n == 0) {
		log_error(MOD, "%s: no machines in it", file);
		rc = CC_ERR_INVALID;
	}
	o.csrs_checked = 1;
	if (rc == CC_OK && (im->wrote = calloc(im->n, 1)) == NULL)
		rc = CC_ERR_NOMEM;
	while (rc == CC_OK && im->done < im->n) {
		size_t n = im->n - im->done < (size_t)batch ? im->n - im->done : (size_t)batch;

		rc = provision_batch(a->vault, im->rows + im->done, n, &o, &im->rep);
		if (rc != CC_OK)
			undo_bundles(im, im->done, n);
		if (rc == CC_OK) {
			im->done += n;
			batches++;
		}
	}
	if (rc != CC_OK) {
		rc = import_failed(a, im, file, rc);
		free(im);
		return rc;
	}
	if (a->json)
		rc = cli_print_json(json_pack("{s:I, s:I, s:s, s:I}", "imported", (json_int_t)im->done, "batches",
		                              (json_int_t)batches, "out", im->out, "ms",
		                              (json_int_t)(clock_now_ms() - t0)));
	else
		printf("imported %zu machines in %zu batches; bundles under %s/SERIAL/\n", im->done, batches, im->out);
	import_free(im);
	free(im);
	return rc;
}

int cli_run_machine_renew(struct cli_args *a)
{
	unsigned char *csr = NULL;
	size_t len = 0;
	char *cert = NULL;
	const char *why = NULL;
	struct store_machine *m = calloc(1, sizeof(*m));
	int days = 0, rc = m == NULL ? CC_ERR_NOMEM : validity_of(a, &days);
	char at[40];

	if (rc == CC_OK)
		rc = file_read_all(cli_get(a, "csr"), CA_CSR_MAX, &csr, &len);
	if (rc == CC_OK)
		rc = provision_renew(a->vault, cli_get(a, "serial"), (const char *)csr, days, &cert, m, &why);
	if (rc != CC_OK && why != NULL)
		log_error(MOD, "renewal of %s refused: %s", cli_get(a, "serial"), why);
	if (rc == CC_OK)
		rc = file_write_new(cli_get(a, "out"), cert, strlen(cert), 0644);
	if (rc == CC_OK && a->json)
		rc = cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "serial", m->serial, "certificate",
		                              cli_get(a, "out"), "cert_sha256", m->cert_fingerprint, "not_after",
		                              cli_time(m->cert_not_after_ms, at, sizeof(at))));
	else if (rc == CC_OK)
		printf("renewed %s: %s (until %s); the previous certificate is accepted until %s\n", m->serial,
		       cli_get(a, "out"), cli_time(m->cert_not_after_ms, at, sizeof(at)),
		       cli_time(m->prev_cert_until_ms, (char[40]){ 0 }, 40));
	free(cert);
	free(csr);
	free(m);
	return rc;
}

struct certs_out {
	json_t *rows;
	int json;
	size_t n;
};

static int print_cert_row(void *arg, const struct provision_cert_row *r)
{
	struct certs_out *o = arg;
	char until[40];
	const char *what[3];
	char findings[64] = "";
	size_t k = 0, i;

	if (r->findings & PROVISION_EXPIRING)
		what[k++] = "expiring";
	if (r->findings & PROVISION_REVOKED_ONLINE)
		what[k++] = "revoked_connected";
	if (r->findings & PROVISION_NEVER_SEEN)
		what[k++] = "never_seen";
	for (i = 0; i < k; i++)
		snprintf(findings + strlen(findings), sizeof(findings) - strlen(findings), "%s%s", i ? "," : "",
		         what[i]);
	cli_time(r->m->cert_not_after_ms, until, sizeof(until));
	o->n++;
	if (o->json) {
		json_t *list = json_array();

		for (i = 0; list != NULL && i < k; i++)
			json_array_append_new(list, json_string(what[i]));
		return json_array_append_new(o->rows, json_pack("{s:s, s:s, s:s, s:s, s:o}", "serial", r->m->serial,
		                                                "customer", r->customer, "not_after", until,
		                                                "cert_sha256", r->m->cert_fingerprint, "findings",
		                                                list)) ? CC_ERR_NOMEM : 0;
	}
	printf("%-24s %-20s %-21s %-30s %s\n", r->m->serial, r->customer, until, findings, r->m->cert_fingerprint);
	return 0;
}

int cli_run_machine_certs(struct cli_args *a)
{
	struct certs_out o = { json_array(), a->json, 0 };
	const char *text = cli_get(a, "expiring-days");
	long days = 30;
	int rc = text != NULL ? parse_count("expiring-days", text, 0, CA_DAYS_MAX, &days) : CC_OK;

	if (o.rows == NULL)
		return CC_ERR_NOMEM;
	if (rc == CC_OK && !a->json)
		printf("%-24s %-20s %-21s %-30s %s\n", "SERIAL", "CUSTOMER", "NOT-AFTER", "FINDINGS", "CERT-SHA256");
	if (rc == CC_OK)
		rc = provision_cert_audit(a->vault, 0, clock_now_ms(), (int64_t)days * 86400000, print_cert_row, &o);
	if (rc == CC_OK && a->json)
		return cli_print_json(json_pack("{s:I, s:o}", "expiring_days", (json_int_t)days, "machines", o.rows));
	json_decref(o.rows);
	return rc;
}

int cli_run_machine_cert_validity(struct cli_args *a)
{
	const char *text = cli_get(a, "days");
	long d = 0;
	int days = 0, rc = CC_OK;

	if (text != NULL) {
		rc = parse_count("days", text, 1, CA_DAYS_MAX, &d);
		if (rc == CC_OK)
			rc = provision_days_set(a->vault, (int)d);
	}
	if (rc == CC_OK)
		rc = provision_days(a->vault, &days);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:i}", "days", days));
	printf("new machine certificates are valid %d days\n", days);
	return CC_OK;
}
