// SPDX-License-Identifier: GPL-2.0-or-later
/* wg-activator's deadline heap (sched.c) and live-session table (table.c). */
#include "config.h"

#include <stdlib.h>

#include "sched.c"
#include "table.c"
#include "tap.h"

struct item {
	int id;
	struct sched_timer t;
};

static bool heap_ok(const struct sched *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->heap[i]->idx != i + 1)
			return false;
		if (i && s->heap[(i - 1) / 2]->deadline > s->heap[i]->deadline)
			return false;
	}
	return true;
}

static void test_order(void)
{
	struct sched s;
	struct item it[1000];
	int64_t last = INT64_MIN;
	bool sorted = true;
	size_t n = 0;
	struct sched_timer *t;

	sched_init(&s);
	is_int(sched_next(&s), SCHED_NONE, "empty heap: no deadline");
	ok(sched_pop_due(&s, INT64_MAX) == NULL, "empty heap: nothing due");
	srand(7);
	for (int i = 0; i < 1000; i++) {
		it[i].id = i;
		it[i].t.idx = 0;
		sched_set(&s, &it[i].t, rand() % 500);	/* many equal deadlines */
	}
	ok(heap_ok(&s), "heap property after 1000 inserts");
	is_int(sched_count(&s), 1000, "1000 queued");
	/* move some, cancel some */
	for (int i = 0; i < 1000; i += 3)
		sched_set(&s, &it[i].t, rand() % 500);
	for (int i = 1; i < 1000; i += 7)
		sched_del(&s, &it[i].t);
	ok(heap_ok(&s), "heap property after moves and cancels");
	ok(!sched_queued(&it[1].t), "a cancelled timer is not queued");
	sched_del(&s, &it[1].t);
	ok(heap_ok(&s), "cancelling twice is harmless");
	ok(sched_pop_due(&s, -1) == NULL, "nothing due before the earliest deadline");
	while ((t = sched_pop_due(&s, 250))) {
		if (t->deadline < last || t->deadline > 250)
			sorted = false;
		last = t->deadline;
		n++;
	}
	ok(sorted, "due timers come out in deadline order, none late");
	ok(sched_next(&s) > 250, "the rest are after now");
	while ((t = sched_pop_due(&s, INT64_MAX)))
		n++;
	is_int(n, 1000 - 143, "every queued timer came out once");
	sched_fini(&s);
}

static void test_exact(void)
{
	struct sched s;
	struct item a = { 1, { 0, 0 } }, b = { 2, { 0, 0 } };

	sched_init(&s);
	sched_set(&s, &a.t, 100);
	sched_set(&s, &b.t, 50);
	is_int(sched_next(&s), 50, "earliest first");
	ok(sched_pop_due(&s, 49) == NULL, "not due one unit early");
	ok(sched_pop_due(&s, 50) == &b.t, "due exactly at its deadline");
	sched_set(&s, &a.t, 10);
	is_int(sched_next(&s), 10, "re-arming earlier moves it up");
	sched_set(&s, &a.t, 1000);
	is_int(sched_next(&s), 1000, "re-arming later moves it down");
	sched_fini(&s);
	ok(!sched_queued(&a.t), "fini dequeues everything");
}

static void session(struct wgotp_session *s, const char *user, const char *dev, int64_t exp)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->device, sizeof(s->device), "%s", dev);
	snprintf(s->public_key, sizeof(s->public_key), "%s",
		 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=");
	snprintf(s->allowed_ips, sizeof(s->allowed_ips), "10.0.0.2/32");
	s->expires = exp;
}

static void test_table(void)
{
	struct table t;
	struct wgotp_session s;
	struct live *l, *x;
	struct table_iter it;
	char name[32];
	size_t count = 0;

	table_init(&t);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "u%d@example.com", i);
		session(&s, name, "laptop", 1000 + i % 100);
		if (table_put(&t, &s, NULL) < 0)
			break;
	}
	is_int(t.n, 5000, "5000 sessions in the table");
	session(&s, "u42@example.com", "laptop", 5);
	table_put(&t, &s, &l);
	is_int(t.n, 5000, "put of the same (user, device) replaces");
	x = table_get(&t, "u42@example.com", "laptop");
	ok(x == l && x->s.expires == 5, "get finds the replaced entry");
	ok(table_get(&t, "u42@example.com", "phone") == NULL, "another device is another key");
	is_int(table_next_expiry(&t), 5, "the earliest expiry is the replaced one");
	ok(table_pop_expired(&t, 4) == NULL, "nothing expired at 4");
	ok(table_pop_expired(&t, 5) == l, "expired at its second");
	ok(table_requeue(&t, l, 7) == 0 && table_next_expiry(&t) == 7, "requeued");
	table_del(&t, l);
	is_int(t.n, 4999, "deleted");
	for (x = table_first(&t, &it); x; x = table_next(&t, &it))
		count++;
	is_int(count, 4999, "the iterator visits every entry once");
	session(&s, "bad@example.com", "laptop", 1);
	strcpy(s.public_key, "not a key");
	is_int(table_put(&t, &s, NULL), -EINVAL, "a session with a bad key is refused");
	table_fini(&t);
}

/* The warning heap beside the expiry heap: its own order, kept across a
 * replace (an extend), gone with the entry. */
static void test_warn_heap(void)
{
	struct table t;
	struct wgotp_session s;
	struct live *a, *b;

	table_init(&t);
	session(&s, "a@example.com", "laptop", 1000);
	table_put(&t, &s, &a);
	session(&s, "b@example.com", "laptop", 900);
	table_put(&t, &s, &b);
	is_int(table_next_warn(&t), SCHED_NONE, "no warning armed");
	is_int(table_warn_set(&t, a, 985), 0, "a: warn at 985 (15 s before 1000)");
	is_int(table_warn_set(&t, b, 990), 0, "b: warn at 990");
	is_int(table_next_warn(&t), 985, "the earliest warning first, whatever the expiries");
	ok(table_pop_warn(&t, 984) == NULL, "nothing due at 984");
	ok(table_pop_warn(&t, 985) == a, "a due at its second");
	ok(table_pop_warn(&t, 985) == NULL, "  once");
	is_int(table_next_expiry(&t), 900, "the expiry heap is untouched");
	session(&s, "b@example.com", "laptop", 2000);
	b->warned = 900;
	table_put(&t, &s, &b);
	is_int(table_next_warn(&t), 990, "an extend keeps the armed warning (ops.c re-arms it)");
	is_int(b->warned, 900, "  and what was warned");
	is_int(table_warn_set(&t, b, 1985), 0, "re-armed for the new end");
	is_int(table_next_warn(&t), 1985, "  moved");
	is_int(table_warn_set(&t, b, 0), 0, "cancel");
	is_int(table_next_warn(&t), SCHED_NONE, "  none left");
	table_warn_set(&t, a, 5);
	table_del(&t, a);
	is_int(table_next_warn(&t), SCHED_NONE, "a deleted entry leaves the warn heap");
	table_fini(&t);
}

static void test_ips_format(void)
{
	struct wgotp_cidr c[2];
	char buf[64];

	wgotp_cidr_parse("10.8.0.2/32", &c[0]);
	wgotp_cidr_parse("fd00::2/128", &c[1]);
	is_int(ips_format(c, 2, buf, sizeof(buf)), 0, "format two prefixes");
	is_str(buf, "10.8.0.2/32,fd00::2/128", "joined with a comma");
	is_int(ips_format(c, 2, buf, 12), -ENOBUFS, "too small a buffer");
}

int main(void)
{
	test_exact();
	test_order();
	test_table();
	test_warn_heap();
	test_ips_format();
	return done_testing();
}
