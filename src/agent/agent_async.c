/*
 * agent_async.c - cc_agent_start and cc_agent_update run by a worker thread,
 * for a caller that drives many agents from one thread (agent.h
 * cc_agent_work_begin). One worker per agent at most, joined by the poll
 * that finds it done: the number of threads is bounded by the number of
 * agents the caller lets work at once. What the worker shares with the
 * caller's thread: storage (serialised in agent.c), the clock and on_log
 * callbacks; the HTTPS handle is the worker's alone while it runs (a
 * renewal, which would replace the pair it presents, waits: agent_mqtt.c).
 */
#include <string.h>

#include "agent/internal.h"

static void *work(void *arg)
{
	cc_agent *a = arg;
	struct cc_update_result res;
	int rc = a->work_op == CC_AGENT_WORK_START ? cc_agent_start(a, &res) : cc_agent_update(a, &res);

	/* Published under the lock, so the poll that reads worker_done sees rc
	 * and res as written. */
	pthread_mutex_lock(&a->store_lock);
	a->work_rc = rc;
	a->work_res = res;
	a->worker_done = 1;
	pthread_mutex_unlock(&a->store_lock);
	return NULL;
}

int cc_agent_work_begin(cc_agent *a, int op)
{
	if (op != CC_AGENT_WORK_START && op != CC_AGENT_WORK_UPDATE)
		return CC_AGENT_EINVAL;
	if (a->working || a->renewing)
		return CC_AGENT_ESTATE;
	a->work_op = op;
	a->worker_done = 0;
	memset(&a->work_res, 0, sizeof(a->work_res));
	if (pthread_create(&a->worker, NULL, work, a) != 0)
		return CC_AGENT_ENOMEM;
	a->working = 1;
	return CC_AGENT_OK;
}

int cc_agent_work_poll(cc_agent *a, struct cc_update_result *res)
{
	int done;

	if (!a->working)
		return CC_AGENT_ESTATE;
	pthread_mutex_lock(&a->store_lock);
	done = a->worker_done;
	pthread_mutex_unlock(&a->store_lock);
	if (!done)
		return CC_AGENT_PENDING;
	pthread_join(a->worker, NULL);
	a->working = 0;
	if (res != NULL)
		*res = a->work_res;
	return a->work_rc;
}
