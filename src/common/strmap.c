#include "common/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct slot {
	char *key; /* NULL: empty */
	void *value;
	int tomb;  /* removed: keeps probe chains intact */
};

struct strmap {
	struct slot *slots;
	size_t cap, count, used; /* used = count + tombstones */
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ull;
	}
	return h;
}

int strmap_new(struct strmap **out)
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return CC_ERR_NOMEM;
	m->cap = 64;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return CC_ERR_NOMEM;
	}
	*out = m;
	return CC_OK;
}

void strmap_free(struct strmap *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static struct slot *find(const struct strmap *m, const char *key)
{
	size_t i = (size_t)(hash(key) & (m->cap - 1));

	for (;;) {
		struct slot *s = &m->slots[i];

		if (s->key == NULL && !s->tomb)
			return NULL;
		if (s->key != NULL && strcmp(s->key, key) == 0)
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct slot *s = find(m, key);

	return s ? s->value : NULL;
}

static int grow(struct strmap *m)
{
	struct slot *old = m->slots;
	size_t oldcap = m->cap, i;
	size_t cap = m->count * 4 > m->cap ? m->cap * 2 : m->cap; /* else just sweep tombstones */

	m->slots = calloc(cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		m->slots = old;
		return CC_ERR_NOMEM;
	}
	m->cap = cap;
	m->used = m->count;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key != NULL) {
			size_t j = (size_t)(hash(old[i].key) & (cap - 1));

			while (m->slots[j].key != NULL)
				j = (j + 1) & (cap - 1);
			m->slots[j].key = old[i].key;
			m->slots[j].value = old[i].value;
		}
	}
	free(old);
	return CC_OK;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	struct slot *s = find(m, key);
	size_t i;

	if (s != NULL) {
		s->value = value;
		return CC_OK;
	}
	if ((m->used + 1) * 2 > m->cap && grow(m) != CC_OK)
		return CC_ERR_NOMEM;
	i = (size_t)(hash(key) & (m->cap - 1));
	while (m->slots[i].key != NULL)
		i = (i + 1) & (m->cap - 1);
	m->slots[i].key = strdup(key);
	if (m->slots[i].key == NULL)
		return CC_ERR_NOMEM;
	if (!m->slots[i].tomb)
		m->used++;
	m->slots[i].tomb = 0;
	m->slots[i].value = value;
	m->count++;
	return CC_OK;
}

void *strmap_remove(struct strmap *m, const char *key)
{
	struct slot *s = find(m, key);
	void *value;

	if (s == NULL)
		return NULL;
	value = s->value;
	free(s->key);
	s->key = NULL;
	s->value = NULL;
	s->tomb = 1;
	m->count--;
	return value;
}

size_t strmap_count(const struct strmap *m) { return m->count; }

int strmap_foreach(struct strmap *m, int (*each)(void *ctx, const char *key, void *value), void *ctx)
{
	size_t i;
	int rc;

	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].key != NULL) {
			rc = each(ctx, m->slots[i].key, m->slots[i].value);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}
