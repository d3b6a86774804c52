/* show_mnt: the mount namespaces of a dump, for 'amber show DIR'. */
#include <stdio.h>

#include "driver/show_mnt.h"
#include "images/image.h"
#include "images/mnt.pb-c.h"

/* One namespace: a count per kind, then the mounts the tree made itself. */
static void show_mnt_ns(FILE *out, int dirfd, const MntnsEntry *ns)
{
	static const char *const kinds[] = { "?", "host bind", "tmpfs", "tree bind", "new", "external", "overlay" };
	struct err e = { 0 };
	struct image img;
	MntEntry *me;
	char name[64];
	int count[7] = { 0 }, n = 0;

	fprintf(out, "  %u: pids", ns->id);
	for (size_t i = 0; i < ns->n_pids; i++)
		fprintf(out, " %u", ns->pids[i]);
	snprintf(name, sizeof(name), "mountpoints-%u.img", ns->id);
	if (image_open_read(&img, dirfd, "mountpoints", name, &e) < 0) {
		fprintf(out, "; %s\n", e.msg);
		return;
	}
	fprintf(out, ", root mount %u\n", ns->root_mnt);
	while (image_read(&img, (ProtobufCMessage **)&me, &e) > 0) {
		int k = me->kind >= 1 && me->kind <= 5 ? me->kind : me->kind == MNT_KIND__MNT_OVERLAY ? 6 : 0;

		count[k]++;
		n++;
		if (me->delayable)
			fprintf(out, "    %-6u %-10s %s %s from '%s': delayable (restore --delay-mount mnt[%s])\n",
				me->mnt_id, kinds[k], me->fstype, me->mountpoint, me->source ? me->source : "",
				me->mountpoint);
		if (k != MNT_KIND__MNT_HOST_BIND) {
			fprintf(out, "    %-6u %-10s %s %s", me->mnt_id, kinds[k], me->fstype, me->mountpoint);
			if (k == MNT_KIND__MNT_TREE_BIND)
				fprintf(out, " (%s of mount %u)", me->root, me->bind_of);
			if (k == MNT_KIND__MNT_EXTERNAL)
				fprintf(out, " (external '%s')", me->external);
			if (k == 6)
				fprintf(out, " (%zu lower layers, upper '%s')", me->n_ovl_lower,
					me->ovl_upper ? me->ovl_upper : "none");
			if (me->shared)
				fprintf(out, " shared:%u", me->shared);
			if (me->master)
				fprintf(out, " master:%u", me->master);
			if (me->unbindable)
				fputs(" unbindable", out);
			fputc('\n', out);
		}
		mnt_entry__free_unpacked(me, NULL);
	}
	image_close(&img);
	fprintf(out, "    %d mounts: %d bound from outside the tree (not listed), %d tmpfs saved, %d binds of those, "
		"%d new, %d external, %d overlay\n", n, count[1], count[2], count[3], count[4], count[5], count[6]);
}

void show_mnt_text(FILE *out, int dirfd)
{
	struct err e = { 0 };
	struct image img;
	MntnsEntry *ns;
	bool first = true;

	if (image_open_read(&img, dirfd, "mntns", "mntns.img", &e) < 0)
		return;
	while (image_read(&img, (ProtobufCMessage **)&ns, &e) > 0) {
		if (first)
			fprintf(out, "\nmount namespaces of the tree's own:\n");
		first = false;
		show_mnt_ns(out, dirfd, ns);
		mntns_entry__free_unpacked(ns, NULL);
	}
	image_close(&img);
}
