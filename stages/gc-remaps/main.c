/* amber-gc-remaps: remove the link remaps a dump left on the file system.
 *
 * What it does
 *	For every 'remap' record on stdin (from collect-remaps) that is a link
 *	remap still there, removes the link, or with --show only says it would.
 *	Only the file the dump made is removed (images/remap.h): reached
 *	without a symlink, a regular file named .amber-remap.*, with the device
 *	and inode the record has; any other file at the path is left alone and
 *	its record says why ('refused'), so images that name another file
 *	cannot make gc delete it. The records come back on stdout with
 *	'removed', 'missing' or 'refused' set, for the driver to report.
 *	Ghost files live in the images and are left
 *	alone. Once a remap is gone, the dump can no longer be restored. A
 *	remap in a mount namespace of the tree (its record names it) is
 *	removed there: a child enters the namespace through the pin that
 *	build-mntns made (its `mntns` record).
 *
 * Inputs	stdin: 'remap' records (collect-remaps --allow-missing), 'mntns'
 *	records (build-mntns).
 * Options	--show: remove nothing.
 * Outputs	stdout: the link remap records, with what was done, then end.
 * Exit status	4 if a link cannot be removed (it names the path).
 * Capabilities	CAP_DAC_OVERRIDE, CAP_FOWNER (links in others' directories,
 *	sticky ones included), CAP_SYS_ADMIN and CAP_SYS_CHROOT (setns).
 * By hand	amber gc -D DIR [--show] runs it after collect-pstree and
 *	collect-remaps.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/exitcodes.h"
#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/nschild.h"
#include "images/remap.h"

struct gc_remaps_opts {
	bool show;
};

/* The pins of the namespaces build-mntns made, and the devices of the
 * tmpfs mounts it filled in them, by id. */
struct gc_remaps_pins {
	char **pin;
	size_t nr;
	struct { uint64_t *dev; size_t nr; } *made;
	size_t nr_made;
};

/* One remap to remove, and what it must be. */
struct gc_remaps_one {
	const RemapPlanEntry *r;
	struct remap_expect x;
};

/* Unlinks the remap's path if it is the file the dump made: an enum
 * remap_unlinked; for REMAP_NOT_OURS, why says why it was left alone. */
static int gc_remaps_unlink(const struct gc_remaps_one *g, struct err *why, struct err *e)
{
	int ret = remap_unlink(g->r->path, &g->x, why);

	if (ret < 0)
		*e = *why;
	return ret;
}

/* gc_remaps_unlink in a child in the remap's mount namespace; why comes
 * back as the bytes it sends (a child's err comes back only on failure). */
static int gc_remaps_unlink_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	struct err why = { 0 };
	int ret = gc_remaps_unlink(arg, &why, e);

	if (ret == REMAP_NOT_OURS && nschild_send(reply, why.msg, strlen(why.msg), e) < 0)
		return -1;
	return ret;
}

/* Removes one link remap, in its namespace if it has one. One that is not
 * the file the dump made is left alone: its record says why. */
static int gc_remaps_remove(const struct gc_remaps_pins *p, RemapPlanEntry *r, struct err *e)
{
	const char *pin = r->has_mntns && r->mntns < p->nr ? p->pin[r->mntns] : NULL;
	struct gc_remaps_one g = { r, { r->has_dev && r->has_ino, r->dev, r->ino, NULL, 0 } };
	struct nschild_result res = { 0 };
	struct err why = { 0 };
	int ret;

	if (pin && r->mntns < p->nr_made) {
		g.x.made = p->made[r->mntns].dev;
		g.x.nr_made = p->made[r->mntns].nr;
	}

	if (r->has_mntns && !pin)
		return err_input(e, "link remap '%s' of file %u is in mount namespace %u, which build-mntns did not make",
				 r->path, r->file_id, r->mntns);
	if (pin) {
		char what[4096 + 64];

		/* Entering a namespace is for good: a child does it. */
		snprintf(what, sizeof(what), "remove link remap '%s' of file %u in mount namespace %u", r->path, r->file_id,
			 r->mntns);
		ret = nschild_run_at(what, pin, CLONE_NEWNS, gc_remaps_unlink_child, &g, &res, e);
		if (ret == REMAP_NOT_OURS)
			snprintf(why.msg, sizeof(why.msg), "%s", res.data ? res.data : "not the dump's file");
		nschild_result_free(&res);
	} else {
		ret = gc_remaps_unlink(&g, &why, e);
	}
	if (ret < 0)
		return err_wrap(e, "file %u%s", r->file_id, pin ? " in its mount namespace" : "");
	if (ret == REMAP_REMOVED) {
		r->has_removed = r->removed = true;
		pr_info("removed link remap '%s' of file %u%s", r->path, r->file_id, pin ? " in its mount namespace" : "");
	} else if (ret == REMAP_MISSING) {
		r->has_missing = r->missing = true;
	} else {
		pr_warn("file %u%s: %s", r->file_id, pin ? " in its mount namespace" : "", why.msg);
		if (!(r->refused = strdup(why.msg)))
			return err_errnum(e, ENOMEM, "remember why '%s' was left alone", r->path);
	}
	return 0;
}

/* Remembers the pin of one namespace build-mntns made, by its id. The
 * table is indexed by id, so the id is bounded first: build-mntns numbers
 * the namespaces 1, 2, ... as mntns.img does, and refuses that image if it
 * does not, so a larger id here is a broken stream. */
static int gc_remaps_add_pin(struct gc_remaps_pins *p, const MntnsPlanEntry *m, struct err *e)
{
	if (m->id > IMAGE_MAX_MNTNS_ID)
		return err_proto(e, "the mntns record of mount namespace %u is over the limit of %u namespaces", m->id,
				 IMAGE_MAX_MNTNS_ID);
	if (grow_zero(&p->pin, &p->nr, (size_t)m->id + 1) < 0 || grow_zero(&p->made, &p->nr_made, (size_t)m->id + 1) < 0)
		return err_errno(e, "remember the pin of mount namespace %u", m->id);
	free(p->pin[m->id]);
	free(p->made[m->id].dev);
	p->made[m->id].nr = 0;
	if (!(p->pin[m->id] = strdup(m->pin)) ||
	    !(p->made[m->id].dev = malloc((m->n_made_devs + 1) * sizeof(uint64_t))))
		return err_errno(e, "remember the pin of mount namespace %u", m->id);
	memcpy(p->made[m->id].dev, m->made_devs, m->n_made_devs * sizeof(uint64_t));
	p->made[m->id].nr = m->n_made_devs;
	return 0;
}

static int gc_remaps_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct gc_remaps_pins pins = { NULL, 0, NULL, 0 };
	const struct gc_remaps_opts *o = opts;
	StreamRecord *rec, **links = NULL;
	struct stream_in in;
	struct stream_out out;
	int ret, nr = 0;

	if ((ret = stream_in_open(&in, 0, "stdin", e)) < 0)
		return ret;
	if ((ret = stream_out_open(&out, 1, "gc-remaps", e)) < 0) {
		stream_in_close(&in);
		return ret;
	}
	/* The pins (build-mntns) come after the remaps (collect-remaps):
	 * everything is read first. */
	while ((ret = stream_in_next(&in, &rec, e)) > 0) {
		RemapPlanEntry *r = rec->body_case == STREAM_RECORD__BODY_REMAP ? rec->remap : NULL;

		if (rec->body_case == STREAM_RECORD__BODY_MNTNS) {
			ret = gc_remaps_add_pin(&pins, rec->mntns, e);
		} else if (r && r->kind == REMAP_KIND__REMAP_LINK && r->path) {
			if (grow_one(&links, nr) == 0) {
				links[nr++] = rec;
				continue;
			}
			ret = err_errno(e, "remember link remap '%s'", r->path);
		}
		stream_record__free_unpacked(rec, NULL);
		if (ret < 0)
			break;
	}
	stream_in_close(&in);
	for (int i = 0; i < nr; i++) {
		if (ret >= 0 && !o->show && !links[i]->remap->missing)
			ret = gc_remaps_remove(&pins, links[i]->remap, e);
		if (ret >= 0)
			ret = stream_out_write(&out, links[i], e);
		stream_record__free_unpacked(links[i], NULL);
	}
	free(links);
	for (size_t i = 0; i < pins.nr; i++)
		free(pins.pin[i]);
	free(pins.pin);
	for (size_t i = 0; i < pins.nr_made; i++)
		free(pins.made[i].dev);
	free(pins.made);
	return ret < 0 ? ret : stream_out_end(&out, e);
}

static int gc_remaps_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct gc_remaps_opts *o = opts;

	if (opt != 'S')
		return err_set(e, EXIT_USAGE, "unknown option");
	o->show = true;
	return 0;
}

static const struct option gc_remaps_options[] = {
	{ "show", no_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "gc-remaps",
		.summary = "remove the link remaps of a dump (or, with --show, list them)",
		.usage = "      --show             remove nothing, only list",
		.caps = { CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SYS_ADMIN, CAP_SYS_CHROOT },
		.nr_caps = 4,
		.options = gc_remaps_options,
		.parse_option = gc_remaps_parse_option,
		.run = gc_remaps_run,
	};
	struct gc_remaps_opts opts = { false };

	return stage_main(&desc, &opts, argc, argv);
}
