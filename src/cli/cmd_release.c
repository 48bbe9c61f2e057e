/* cmd_release.c - software updates on the command line (docs/UPDATES.md):
 * `release keygen|sign` where the release key is, offline, with no data
 * directory; `release-key add|revoke|list`, which keys the server trusts;
 * `artifact add|list|show|offer|status`, the artifacts it stores and offers
 * and a machine's update status. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "fleet/updates.h"
#include "update/release.h"

#define MOD "cli"

static int run_keygen(struct cli_args *a)
{
	const char *dir = cli_get(a, "out");
	char id[65];
	int rc = release_key_generate(dir, id);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s, s:s}", "key_id", id, "private_key", RELEASE_KEY_FILE,
		                                "public_key", RELEASE_PUB_FILE));
	printf("release key %s\n  %s/%s  private: keep it offline, never on the server\n"
	       "  %s/%s  public: `coffeecloud release-key add --file` on the server\n",
	       id, dir, RELEASE_KEY_FILE, dir, RELEASE_PUB_FILE);
	return CC_OK;
}

/* "m1,m2" into m->models, sorted (canonical metadata wants them so). */
static int parse_models(const char *list, struct update_meta *m)
{
	char *copy = strdup(list), *save = NULL;

	if (copy == NULL)
		return CC_ERR_NOMEM;
	m->nmodels = 0;
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		size_t at;
		if (m->nmodels == CC_UPDATE_MODELS_MAX || strlen(t) > CC_NAME_MAX) {
			free(copy);
			log_error(MOD, "--model: at most %d models of up to %d characters", CC_UPDATE_MODELS_MAX, CC_NAME_MAX);
			return CC_ERR_INVALID;
		}
		for (at = 0; at < m->nmodels && strcmp(m->models[at], t) < 0; at++)
			;
		if (at < m->nmodels && strcmp(m->models[at], t) == 0)
			continue;
		memmove(m->models[at + 1], m->models[at], (m->nmodels - at) * sizeof(m->models[0]));
		snprintf(m->models[at], sizeof(m->models[at]), "%s", t);
		m->nmodels++;
	}
	free(copy);
	return CC_OK;
}

static int run_sign(struct cli_args *a)
{
	const char *file = cli_get(a, "file"), *out = cli_get(a, "out");
	const char *version = cli_get(a, "version"), *min_from = cli_get(a, "min-from");
	const char *notes = cli_get(a, "notes") != NULL ? cli_get(a, "notes") : "";
	char outpath[4096];
	uint8_t seed[ED25519_SEED_LEN];
	struct update_meta m;
	char *doc = NULL;
	size_t len = 0;
	int64_t expires_ms = 0;
	int rc;

	memset(&m, 0, sizeof(m));
	if (!update_version_valid(version) || !update_version_valid(min_from)) {
		log_error(MOD, "--version and --min-from: semantic versions, MAJOR.MINOR.PATCH[-PRERELEASE]");
		return CC_ERR_INVALID;
	}
	if (update_version_cmp(min_from, version) >= 0) {
		log_error(MOD, "--min-from must be below --version");
		return CC_ERR_INVALID;
	}
	if (cli_parse_time(cli_get(a, "expires"), &expires_ms) != CC_OK || expires_ms <= 0) {
		log_error(MOD, "--expires: a date, YYYY-MM-DD[THH:MM:SS[Z]] (UTC)");
		return CC_ERR_INVALID;
	}
	if (strlen(notes) > CC_UPDATE_NOTES_MAX) {
		log_error(MOD, "--notes: at most %d bytes", CC_UPDATE_NOTES_MAX);
		return CC_ERR_INVALID;
	}
	rc = parse_models(cli_get(a, "model"), &m);
	if (rc != CC_OK)
		return rc;
	snprintf(m.version, sizeof(m.version), "%s", version);
	snprintf(m.min_from, sizeof(m.min_from), "%s", min_from);
	snprintf(m.notes, sizeof(m.notes), "%s", notes);
	m.expires = expires_ms / 1000;
	if (out == NULL) {
		if ((size_t)snprintf(outpath, sizeof(outpath), "%s.meta.json", file) >= sizeof(outpath))
			return CC_ERR_INVALID;
		out = outpath;
	}
	rc = release_key_read(cli_get(a, "key"), seed);
	if (rc == CC_OK)
		rc = release_sign_file(seed, file, &m, &doc, &len);
	crypto_wipe(seed, sizeof(seed));
	if (rc == CC_OK)
		rc = file_write_atomic(out, doc, len, 0644);
	free(doc);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s, s:s, s:I, s:s}", "metadata", out, "version", m.version, "sha256",
		                                m.sha256, "size", (json_int_t)m.size, "key_id", m.key_id));
	printf("%s: version %s, %llu bytes, sha256 %s, signed by %.16s...\n", out, m.version,
	       (unsigned long long)m.size, m.sha256, m.key_id);
	return CC_OK;
}

static int run_key_add(struct cli_args *a)
{
	unsigned char *pem = NULL;
	size_t len = 0;
	char actor[CC_NAME_MAX + 8], id[65];
	const char *label = cli_get(a, "label") != NULL ? cli_get(a, "label") : "";
	int rc = file_read_all(cli_get(a, "file"), 4096, &pem, &len);

	if (rc != CC_OK)
		return rc;
	cli_actor(actor, sizeof(actor));
	rc = updates_key_add(a->vault, (const char *)pem, len, label, actor, id);
	free(pem);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s}", "key_id", id, "label", label));
	printf("release key %s trusted\n", id);
	return CC_OK;
}

static int run_key_revoke(struct cli_args *a)
{
	char actor[CC_NAME_MAX + 8];
	const char *id = cli_get(a, "id");
	int rc;

	cli_actor(actor, sizeof(actor));
	rc = updates_key_revoke(a->vault, id, actor);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:b}", "key_id", id, "revoked", 1));
	printf("release key %s revoked: its artifacts are no longer accepted or offered\n", id);
	return CC_OK;
}

static int run_key_list(struct cli_args *a)
{
	json_t *doc = NULL, *k;
	size_t i;
	int rc = updates_keys_json(a->vault, &doc);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	printf("%-64s %-8s %-24s %s\n", "KEY ID", "STATE", "ADDED", "LABEL");
	json_array_foreach(json_object_get(doc, "release_keys"), i, k) {
		char when[40];
		printf("%-64s %-8s %-24s %s\n", json_string_value(json_object_get(k, "key_id")),
		       json_integer_value(json_object_get(k, "revoked_ms")) != 0 ? "revoked" : "trusted",
		       cli_time(json_integer_value(json_object_get(k, "added_ms")), when, sizeof(when)),
		       json_string_value(json_object_get(k, "label")));
	}
	json_decref(doc);
	return CC_OK;
}

static int run_artifact_add(struct cli_args *a)
{
	const char *file = cli_get(a, "file");
	unsigned char *meta = NULL;
	size_t len = 0;
	char actor[CC_NAME_MAX + 8], why[UPDATES_WHY_MAX];
	struct update_meta m;
	int fd, rc = file_read_all(cli_get(a, "meta"), CC_UPDATE_DOC_MAX, &meta, &len);

	if (rc != CC_OK)
		return rc;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error(MOD, "%s: %s", file, strerror(errno));
		free(meta);
		return errno == ENOENT ? CC_ERR_NOTFOUND : CC_ERR_IO;
	}
	cli_actor(actor, sizeof(actor));
	rc = updates_artifact_add(a->vault, fd, (const char *)meta, len, actor, &m, why);
	close(fd);
	free(meta);
	if (why[0] != '\0')
		log_error(MOD, "%s", why);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s, s:I}", "sha256", m.sha256, "version", m.version, "size",
		                                (json_int_t)m.size));
	printf("artifact %s stored: version %s, %llu bytes\n", m.sha256, m.version, (unsigned long long)m.size);
	return CC_OK;
}

static int run_artifact_list(struct cli_args *a)
{
	json_t *doc = NULL, *r;
	size_t i;
	int rc = updates_artifacts_json(a->vault, &doc);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	printf("%-64s %-12s %-12s %-22s %s\n", "SHA256", "VERSION", "SIZE", "EXPIRES", "MODELS");
	json_array_foreach(json_object_get(doc, "artifacts"), i, r) {
		char *models = json_dumps(json_object_get(r, "models"), JSON_COMPACT);
		printf("%-64s %-12s %-12lld %-22s %s\n", json_string_value(json_object_get(r, "sha256")),
		       json_string_value(json_object_get(r, "version")),
		       (long long)json_integer_value(json_object_get(r, "size")),
		       json_string_value(json_object_get(r, "expires")), models != NULL ? models : "");
		free(models);
	}
	json_decref(doc);
	return CC_OK;
}

static int run_artifact_show(struct cli_args *a)
{
	json_t *doc = NULL;
	int rc = updates_artifact_json(a->vault, cli_get(a, "sha"), &doc);

	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such artifact (see artifact list)");
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	printf("sha256   %s\nversion  %s (from %s)\nsize     %lld\nexpires  %s\nkey      %s\nnotes    %s\n",
	       json_string_value(json_object_get(doc, "sha256")), json_string_value(json_object_get(doc, "version")),
	       json_string_value(json_object_get(doc, "min_from_version")),
	       (long long)json_integer_value(json_object_get(doc, "size")),
	       json_string_value(json_object_get(doc, "expires")), json_string_value(json_object_get(doc, "key_id")),
	       json_string_value(json_object_get(doc, "notes")));
	json_decref(doc);
	return CC_OK;
}

static int run_artifact_offer(struct cli_args *a)
{
	char actor[CC_NAME_MAX + 8], why[UPDATES_WHY_MAX];
	const char *sha = cli_get(a, "sha"), *serial = cli_get(a, "serial");
	int rc;

	cli_actor(actor, sizeof(actor));
	rc = updates_offer(a->vault, serial, sha, actor, why);
	if (why[0] != '\0')
		log_error(MOD, "%s", why);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s}", "serial", serial, "sha256", sha));
	printf("%s is offered %s\n", serial, sha);
	return CC_OK;
}

static int run_artifact_status(struct cli_args *a)
{
	struct store *st = vault_store(a->vault);
	struct store_machine m;
	json_t *doc = NULL, *offer;
	const char *serial = cli_get(a, "serial");
	int rc = st->ops->machine_find(st, serial, &m);

	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such machine");
	if (rc == CC_OK)
		rc = updates_status_json(a->vault, &m, &doc);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	offer = json_object_get(doc, "offer");
	if (!json_is_object(offer)) {
		printf("%s is offered nothing\n", serial);
	} else {
		const json_t *rollout = json_object_get(offer, "rollout");
		const char *reason = json_string_value(json_object_get(offer, "reason"));
		char by[48];

		if (json_is_integer(rollout))
			snprintf(by, sizeof(by), "rollout %lld", (long long)json_integer_value(rollout));
		else
			snprintf(by, sizeof(by), "offered to it alone");
		printf("serial   %s\nartifact %s\nversion  %s\nby       %s (%s)\nstate    %s",
		       serial, json_string_value(json_object_get(offer, "sha256")),
		       json_string_value(json_object_get(offer, "version")), by,
		       json_string_value(json_object_get(offer, "offered_by")),
		       json_string_value(json_object_get(offer, "state")));
		if (strcmp(json_string_value(json_object_get(offer, "state")), "downloading") == 0)
			printf(" %lld %%", (long long)json_integer_value(json_object_get(offer, "percent")));
		if (reason != NULL && reason[0] != '\0')
			printf(" (%s)", reason);
		printf("\n");
	}
	json_decref(doc);
	return CC_OK;
}

const struct cli_cmd cli_release_cmds[] = {
	{ "release", "keygen", "make a release key (offline, where releases are signed; never on the server)", NULL, 0,
	  { { "out", "DIR", "where release.key (0600) and release.pub go", 1 }, CLI_END_OPTS }, run_keygen },
	{ "release", "sign", "sign an artifact's metadata with the release key (offline): FILE.meta.json", NULL, 0,
	  { { "key", "KEY", "the release key (release.key)", 1 },
	    { "file", "FILE", "the artifact", 1 },
	    { "model", "M[,M2]", "the machine models it fits", 1 },
	    { "version", "V", "its semantic version", 1 },
	    { "min-from", "V", "the oldest installed version it may upgrade", 1 },
	    { "expires", "DATE", "when the metadata stops being accepted (UTC)", 1 },
	    { "notes", "TEXT", "release notes", 0 },
	    { "out", "PATH", "where the signed metadata goes (default FILE.meta.json)", 0 },
	    CLI_END_OPTS },
	  run_sign },
	CLI_END_CMDS,
};

const struct cli_cmd cli_release_key_cmds[] = {
	{ "release-key", "add", "trust a release key: artifacts it signs may be uploaded and offered", NULL, 1,
	  { { "file", "PEM", "the public key (release.pub)", 1 }, { "label", "TEXT", "a name for people", 0 },
	    CLI_END_OPTS },
	  run_key_add },
	{ "release-key", "revoke", "stop trusting a release key, for good", NULL, 1,
	  { { "id", "KEYID", "the key's id (release-key list)", 1 }, CLI_END_OPTS }, run_key_revoke },
	{ "release-key", "list", "the release keys, trusted and revoked", NULL, 1, { CLI_END_OPTS }, run_key_list },
	CLI_END_CMDS,
};

const struct cli_cmd cli_artifact_cmds[] = {
	{ "artifact", "add", "store an artifact whose signed metadata a trusted release key verifies", "file", 1,
	  { { "file", "FILE", "the artifact", 1 }, { "meta", "FILE", "its signed metadata (release sign)", 1 },
	    CLI_END_OPTS },
	  run_artifact_add },
	{ "artifact", "list", "the stored artifacts, newest first", NULL, 1, { CLI_END_OPTS }, run_artifact_list },
	{ "artifact", "show", "one artifact: metadata, notes", "sha", 1,
	  { { "sha", "SHA", "the artifact's SHA-256", 1 }, CLI_END_OPTS }, run_artifact_show },
	{ "artifact", "offer", "offer an artifact to a machine (replacing its offer)", "sha", 1,
	  { { "sha", "SHA", "the artifact's SHA-256", 1 }, { "serial", "S", "the machine", 1 }, CLI_END_OPTS },
	  run_artifact_offer },
	{ "artifact", "status", "a machine's update status: what it is offered and the progress it reported", "serial",
	  1, { { "serial", "S", "the machine", 1 }, CLI_END_OPTS }, run_artifact_status },
	CLI_END_CMDS,
};
