/* tickets_sqlite.c - service tickets and their history in SQLite (store/tickets.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/sqlite/handle.h"
#include "store/tickets.h"

#define TICKET_COLUMNS                                                                                     \
	"id, machine_id, customer_id, coalesce(alert_id, 0), state, assignee, opened_ms, opened_by, updated_ms, " \
	"closed_ms, events, title, description"

static void copy_blob(uint8_t *out, size_t cap, size_t *len, sqlite3_stmt *st, int col)
{
	const void *b = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	/* A blob longer than its room was not written by us: it reads as none (it would not open anyway). */
	*len = b != NULL && n <= cap ? n : 0;
	if (*len > 0)
		memcpy(out, b, n);
}

static void read_ticket(sqlite3_stmt *st, struct store_ticket *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, 0);
	t->machine_id = sqlite3_column_int64(st, 1);
	t->customer_id = sqlite3_column_int64(st, 2);
	t->alert_id = sqlite3_column_int64(st, 3);
	sqlite_copy_text(t->state, sizeof(t->state), st, 4);
	sqlite_copy_text(t->assignee, sizeof(t->assignee), st, 5);
	t->opened_ms = sqlite3_column_int64(st, 6);
	sqlite_copy_text(t->opened_by, sizeof(t->opened_by), st, 7);
	t->updated_ms = sqlite3_column_int64(st, 8);
	t->closed_ms = sqlite3_column_int64(st, 9);
	t->events = sqlite3_column_int64(st, 10);
	copy_blob(t->title, sizeof(t->title), &t->title_len, st, 11);
	copy_blob(t->description, sizeof(t->description), &t->description_len, st, 12);
}

static void bind_blob(sqlite3_stmt *st, int i, const uint8_t *b, size_t len)
{
	if (len > 0)
		sqlite3_bind_blob(st, i, b, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int ticket_add(struct store *s, const struct store_ticket *t, int64_t *id)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO tickets(machine_id, customer_id, alert_id, state, assignee, "
	                                 "opened_ms, opened_by, updated_ms, closed_ms, events, title, description) "
	                                 "VALUES (?1, ?2, nullif(?3, 0), ?4, ?5, ?6, ?7, ?8, ?9, ?10, coalesce(?11, x''), ?12)",
	                              &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, t->machine_id);
	sqlite3_bind_int64(st, 2, t->customer_id);
	sqlite3_bind_int64(st, 3, t->alert_id);
	sqlite3_bind_text(st, 4, t->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, t->assignee, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, t->opened_ms);
	sqlite3_bind_text(st, 7, t->opened_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, t->updated_ms);
	sqlite3_bind_int64(st, 9, t->closed_ms);
	sqlite3_bind_int64(st, 10, t->events);
	bind_blob(st, 11, t->title, t->title_len);
	bind_blob(st, 12, t->description, t->description_len);
	rc = sqlite_store_step_done(s, st, "ticket_add");
	if (rc == CC_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(sqlite_store_db(s));
	return rc;
}

static int one_ticket(struct store *s, sqlite3_stmt *st, struct store_ticket *out, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		read_ticket(st, out);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? CC_OK : rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, what);
}

static int ticket_get(struct store *s, int64_t id, struct store_ticket *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return one_ticket(s, st, out, "ticket_get");
}

static int ticket_find_by_alert(struct store *s, int64_t alert_id, struct store_ticket *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " TICKET_COLUMNS " FROM tickets WHERE alert_id = ? "
	                                 "ORDER BY id DESC LIMIT 1", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, alert_id);
	return one_ticket(s, st, out, "ticket_find_by_alert");
}

static int ticket_update(struct store *s, const struct store_ticket *t)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "UPDATE tickets SET state = ?2, assignee = ?3, updated_ms = ?4, closed_ms = ?5, "
	                                 "events = ?6, title = coalesce(?7, x''), description = ?8 WHERE id = ?1", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, t->id);
	sqlite3_bind_text(st, 2, t->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, t->assignee, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, t->updated_ms);
	sqlite3_bind_int64(st, 5, t->closed_ms);
	sqlite3_bind_int64(st, 6, t->events);
	bind_blob(st, 7, t->title, t->title_len);
	bind_blob(st, 8, t->description, t->description_len);
	rc = sqlite_store_step_done(s, st, "ticket_update");
	if (rc == CC_OK && sqlite3_changes(sqlite_store_db(s)) != 1)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

/* A service company's customers may be thousands: one bound value. */
char *sqlite_ids_json(const int64_t *ids, size_t n)
{
	size_t cap = 3 + n * 21, at = 0;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	out[at++] = '[';
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(out + at, cap - at, "%s%lld", i ? "," : "", (long long)ids[i]);
	out[at++] = ']';
	out[at] = '\0';
	return out;
}

static int ticket_list(struct store *s, const struct store_ticket_filter *f,
                       int (*each)(void *ctx, const struct store_ticket *t), void *ctx)
{
	sqlite3_stmt *st;
	/* Newest first by the primary key, so a page reads its rows and stops;
	 * the scope's lists are looked up per row, never sorted. */
	int rc = sqlite_store_prepare(
		s,
		"SELECT " TICKET_COLUMNS " FROM tickets WHERE (?1 = 0 OR id < ?1) AND (?2 = 0 OR machine_id = ?2) "
		"AND (?3 = 0 OR customer_id = ?3) "
		"AND (?4 = 0 OR machine_id IN (SELECT id FROM machines WHERE site_id = ?4)) "
		"AND (?5 IS NULL OR state = ?5) AND (?6 = 0 OR state <> 'closed') "
		"AND (?7 IS NULL OR machine_id IN (SELECT m.id FROM machines m JOIN sites x ON x.id = m.site_id "
		"                                  WHERE x.name = ?7)) "
		"AND (?8 = 0 OR customer_id IN (SELECT value FROM json_each(?9)) "
		"     OR machine_id IN (SELECT value FROM json_each(?10)) "
		"     OR machine_id IN (SELECT id FROM machines WHERE site_id IN (SELECT value FROM json_each(?11)))) "
		"ORDER BY id DESC",
		&st);
	char *lists[3] = { NULL, NULL, NULL };
	int stop = 0;

	if (rc != CC_OK)
		return rc;
	if (f->scoped) {
		lists[0] = sqlite_ids_json(f->customers, f->ncustomers);
		lists[1] = sqlite_ids_json(f->machines, f->nmachines);
		lists[2] = sqlite_ids_json(f->sites, f->nsites);
		if (lists[0] == NULL || lists[1] == NULL || lists[2] == NULL) {
			for (int i = 0; i < 3; i++)
				free(lists[i]);
			sqlite3_finalize(st);
			return CC_ERR_NOMEM;
		}
	}
	sqlite3_bind_int64(st, 1, f->before_id);
	sqlite3_bind_int64(st, 2, f->machine_id);
	sqlite3_bind_int64(st, 3, f->customer_id);
	sqlite3_bind_int64(st, 4, f->site_id);
	if (f->state != NULL)
		sqlite3_bind_text(st, 5, f->state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, f->unclosed != 0);
	if (f->site_name != NULL)
		sqlite3_bind_text(st, 7, f->site_name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, f->scoped != 0);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_text(st, 9 + i, lists[i] != NULL ? lists[i] : "[]", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_ticket t;

		read_ticket(st, &t);
		if ((stop = each(ctx, &t)) != 0)
			break;
	}
	sqlite3_finalize(st);
	for (int i = 0; i < 3; i++)
		free(lists[i]);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "ticket_list");
}

static int ticket_purge(struct store *s, int64_t machine_id, int64_t before_ms, int64_t limit, int64_t *deleted)
{
	sqlite3_stmt *st;
	/* Only closed tickets age out: an open one is still being worked on. */
	int rc = sqlite_store_prepare(s, "DELETE FROM tickets WHERE id IN (SELECT id FROM tickets WHERE machine_id = ?1 "
	                                 "AND state = 'closed' AND closed_ms > 0 AND closed_ms < ?2 "
	                                 "ORDER BY closed_ms, id LIMIT ?3)", &st);

	*deleted = 0;
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, before_ms);
	sqlite3_bind_int64(st, 3, limit);
	rc = sqlite_store_step_done(s, st, "ticket_purge");
	if (rc == CC_OK)
		*deleted = sqlite3_changes(sqlite_store_db(s));
	return rc;
}

static int ticket_event_add(struct store *s, const struct store_ticket_event *e)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO ticket_events(ticket_id, seq, at_ms, who, what, detail, text) "
	                                 "VALUES (?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, e->ticket_id);
	sqlite3_bind_int64(st, 2, e->seq);
	sqlite3_bind_int64(st, 3, e->at_ms);
	sqlite3_bind_text(st, 4, e->who, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->what, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e->detail, -1, SQLITE_STATIC);
	bind_blob(st, 7, e->text, e->text_len);
	return sqlite_store_step_done(s, st, "ticket_event_add");
}

static int each_event(struct store *s, sqlite3_stmt *st, int with_text,
                      int (*each)(void *ctx, const struct store_ticket_event *e), void *ctx, const char *what)
{
	struct store_ticket_event e;
	int rc, stop = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&e, 0, sizeof(e));
		e.ticket_id = sqlite3_column_int64(st, 0);
		e.seq = sqlite3_column_int64(st, 1);
		e.at_ms = sqlite3_column_int64(st, 2);
		sqlite_copy_text(e.who, sizeof(e.who), st, 3);
		sqlite_copy_text(e.what, sizeof(e.what), st, 4);
		sqlite_copy_text(e.detail, sizeof(e.detail), st, 5);
		if (with_text)
			copy_blob(e.text, sizeof(e.text), &e.text_len, st, 6);
		if ((stop = each(ctx, &e)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, what);
}

static int ticket_events(struct store *s, int64_t ticket_id, int (*each)(void *ctx, const struct store_ticket_event *e),
                         void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT ticket_id, seq, at_ms, who, what, detail, text FROM ticket_events "
	                                 "WHERE ticket_id = ? ORDER BY seq", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, ticket_id);
	return each_event(s, st, 1, each, ctx, "ticket_events");
}

static int ticket_machine_events(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
                                 int (*each)(void *ctx, const struct store_ticket_event *e), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT e.ticket_id, e.seq, e.at_ms, e.who, e.what, e.detail, NULL "
	                                 "FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
	                                 "WHERE t.machine_id = ?1 AND e.at_ms >= ?2 AND e.at_ms < ?3 "
	                                 "ORDER BY e.at_ms, e.ticket_id, e.seq", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	return each_event(s, st, 0, each, ctx, "ticket_machine_events");
}

const struct store_ticket_ops sqlite_ticket_ops = {
	.add = ticket_add,
	.get = ticket_get,
	.update = ticket_update,
	.find_by_alert = ticket_find_by_alert,
	.list = ticket_list,
	.purge = ticket_purge,
	.event_add = ticket_event_add,
	.events = ticket_events,
	.machine_events = ticket_machine_events,
};
