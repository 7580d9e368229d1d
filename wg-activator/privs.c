// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Keep CAP_NET_ADMIN, drop the rest (see privs.h). Raw capget/capset and
 * prctl: no libcap.
 *
 * Why the wg(8) backend still works: on execve a uid-0 process gets its
 * bounding set as its new permitted and effective sets (the file is taken
 * as having every capability), so with the bounding set reduced to
 * CAP_NET_ADMIN, wg gets exactly CAP_NET_ADMIN. no_new_privs changes
 * nothing there: an exec may then gain nothing beyond the permitted set,
 * which is CAP_NET_ADMIN too. A non-root daemon started with
 * AmbientCapabilities=CAP_NET_ADMIN keeps it in its inheritable set, so
 * the ambient capability, and wg's, survive.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "log.h"
#include "privs.h"

#define KEEP CAP_NET_ADMIN
#define BIT(c) ((uint64_t)1 << (c))

struct caps {
	uint64_t eff, prm, inh;
};

static int caps_get(struct caps *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	c->eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	c->prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	c->inh = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
	return 0;
}

static int caps_set(const struct caps *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {
		{ (uint32_t)c->eff, (uint32_t)c->prm, (uint32_t)c->inh },
		{ (uint32_t)(c->eff >> 32), (uint32_t)(c->prm >> 32), (uint32_t)(c->inh >> 32) },
	};

	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* The bounding set, one prctl per capability the kernel knows (the
 * first EINVAL is past the last one). */
static int bset_get(uint64_t *bset)
{
	int cap, r;

	*bset = 0;
	for (cap = 0; cap < 64; cap++) {
		r = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
		if (r < 0 && errno == EINVAL)
			break;
		if (r < 0)
			return -errno;
		if (r)
			*bset |= BIT(cap);
	}
	return 0;
}

int privs_drop(struct wgotp_error *err)
{
	struct caps cur, want, now;
	uint64_t bset, bset_now;
	const char *bset_note;
	int cap, ret;

	ret = caps_get(&cur);
	if (ret == 0)
		ret = bset_get(&bset);
	if (ret < 0)
		return wgotp_error_set(err, -ret, "capabilities: cannot read them: %s", strerror(-ret));

	/* The bounding set first: dropping from it needs CAP_SETPCAP, which
	 * the capset below takes away. */
	if (!(bset & ~BIT(KEEP))) {
		bset_note = "bounding set";
	} else if (cur.eff & BIT(CAP_SETPCAP)) {
		for (cap = 0; cap < 64; cap++) {
			if (cap == KEEP || !(bset & BIT(cap)))
				continue;
			if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0) {
				ret = -errno;
				return wgotp_error_set(err, -ret,
						       "capabilities: cannot drop capability %d from the bounding set: %s",
						       cap, strerror(-ret));
			}
		}
		bset_note = "bounding set";
	} else {
		/* Not ours to change; no_new_privs keeps an exec from
		 * gaining from it. */
		bset_note = "bounding set left as given (no CAP_SETPCAP)";
	}

	/* Inheritable: CAP_NET_ADMIN when the process may hold it (keeps an
	 * ambient CAP_NET_ADMIN alive; raising it needs it permitted and in
	 * the bounding set, or already inheritable). */
	want.prm = cur.prm & BIT(KEEP);
	want.eff = want.prm;
	want.inh = cur.inh & BIT(KEEP);
	if (want.prm && (bset & BIT(KEEP)))
		want.inh = BIT(KEEP);
	if (want.prm != cur.prm || want.eff != cur.eff || want.inh != cur.inh) {
		ret = caps_set(&want);
		if (ret < 0)
			return wgotp_error_set(err, -ret, "capabilities: capset: %s", strerror(-ret));
	}

	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0) {
		ret = -errno;
		return wgotp_error_set(err, -ret, "capabilities: cannot set no_new_privs: %s",
				       strerror(-ret));
	}

	/* Trust the kernel's word, not the calls' return values. */
	ret = caps_get(&now);
	if (ret == 0)
		ret = bset_get(&bset_now);
	if (ret < 0)
		return wgotp_error_set(err, -ret, "capabilities: cannot read them back: %s",
				       strerror(-ret));
	if ((now.eff | now.prm | now.inh) & ~BIT(KEEP) ||
	    ((cur.eff & BIT(CAP_SETPCAP)) && (bset_now & ~BIT(KEEP))) ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) != 1)
		return wgotp_error_set(err, EPERM,
				       "capabilities: still held after the drop: effective %#" PRIx64
				       ", permitted %#" PRIx64 ", inheritable %#" PRIx64
				       ", bounding %#" PRIx64,
				       now.eff, now.prm, now.inh, bset_now);

	if (now.prm & BIT(KEEP))
		log_info("privileges: uid %u keeps only CAP_NET_ADMIN (effective, permitted, inheritable, %s); no_new_privs set",
			 (unsigned int)geteuid(), bset_note);
	else
		log_info("privileges: uid %u holds no capability (%s); no_new_privs set",
			 (unsigned int)geteuid(), bset_note);
	return 0;
}
