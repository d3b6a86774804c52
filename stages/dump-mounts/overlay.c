/* dump-mounts/overlay.c: an overlay mount only the tree has, recorded to be
 * mounted again from the same layer directories (MNT_OVERLAY): its layers
 * and options from mountinfo (lib/union.h), checked to be directories the
 * dumper reaches by those paths, and a digest of the upper layer, which
 * restore compares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "images/mnt.pb-c.h"
#include "lib/log.h"
#include "lib/union.h"
#include "stages/dump-mounts/dump-mounts.h"

/* More entries than that in an upper layer is refused (the digest reads them all). */
#define DM_OVL_MAX_ENTRIES 1000000

/* Refuses a layer that is not a directory here. */
static int dm_ovl_layer(const struct mountinfo *m, const char *what, const char *path, struct err *e)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return err_input(e, "overlay mount %d at '%s': its %s '%s' is %s in the dumper's mount namespace, so it cannot "
			 "be mounted again from it; make the layer reachable at that path, or name the mount with "
			 "--external mnt[%s]:NAME at dump and --external mnt[NAME]:PATH at restore",
			 m->id, m->mountpoint, what, path, errno == ENOENT ? "missing" : "not a directory",
			 m->mountpoint);
}

/* Moves the array *v (*nr strings) into a protobuf repeated field (*n). */
static char **dm_ovl_take(char ***v, int *nr, size_t *n)
{
	char **out = *v;

	*v = NULL;
	*n = *nr;
	*nr = 0;
	return out;
}

int dump_mounts_overlay(const struct mountinfo *m, MntEntry *me, struct err *e)
{
	struct union_ovl o;
	int ret = union_ovl_parse(m->super_opts, &o, e);

	if (ret < 0) {
		union_ovl_free(&o);
		return err_wrap(e, "overlay mount %d at '%s' cannot be mounted again from its layers (name it with "
				"--external mnt[%s]:NAME at dump and --external mnt[NAME]:PATH at restore)",
				m->id, m->mountpoint, m->mountpoint);
	}
	for (int i = 0; ret >= 0 && i < o.nr_lower; i++)
		ret = dm_ovl_layer(m, "lower layer", o.lower[i], e);
	for (int i = 0; ret >= 0 && i < o.nr_data; i++)
		ret = dm_ovl_layer(m, "data-only layer", o.data[i], e);
	if (ret >= 0 && o.upper)
		ret = dm_ovl_layer(m, "upper layer", o.upper, e);
	if (ret >= 0 && o.work)
		ret = dm_ovl_layer(m, "work directory", o.work, e);
	if (ret >= 0 && o.upper) {
		me->has_ovl_upper_digest = me->has_ovl_upper_entries = true;
		ret = union_tree_digest(o.upper, DM_OVL_MAX_ENTRIES, &me->ovl_upper_digest, &me->ovl_upper_entries, e);
		if (ret < 0)
			ret = err_wrap(e, "overlay mount %d at '%s': read its upper layer '%s'", m->id, m->mountpoint, o.upper);
	}
	if (ret < 0) {
		union_ovl_free(&o);
		return ret;
	}
	me->kind = MNT_KIND__MNT_OVERLAY;
	me->ovl_lower = dm_ovl_take(&o.lower, &o.nr_lower, &me->n_ovl_lower);
	me->ovl_data = dm_ovl_take(&o.data, &o.nr_data, &me->n_ovl_data);
	me->ovl_options = dm_ovl_take(&o.opts, &o.nr_opts, &me->n_ovl_options);
	me->ovl_upper = o.upper;
	me->ovl_work = o.work;
	o.upper = o.work = NULL;
	union_ovl_free(&o);
	pr_info("overlay mount %d at '%s': %zu lower layers, upper '%s' (%llu entries)", m->id, m->mountpoint,
		me->n_ovl_lower, me->ovl_upper ? me->ovl_upper : "(none)", (unsigned long long)me->ovl_upper_entries);
	return 0;
}

void dump_mounts_overlay_free(MntEntry *me)
{
	char **v[] = { me->ovl_lower, me->ovl_data, me->ovl_options };
	size_t n[] = { me->n_ovl_lower, me->n_ovl_data, me->n_ovl_options };

	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < n[k]; i++)
			free(v[k][i]);
		free(v[k]);
	}
	free(me->ovl_upper);
	free(me->ovl_work);
	me->ovl_lower = me->ovl_data = me->ovl_options = NULL;
	me->n_ovl_lower = me->n_ovl_data = me->n_ovl_options = 0;
	me->ovl_upper = me->ovl_work = NULL;
}
