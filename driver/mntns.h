/* mntns: the driver's side of the mount namespaces build-mntns pins in
 * RUN/ns/mnt.ID. */
#ifndef AMBER_DRIVER_MNTNS_H
#define AMBER_DRIVER_MNTNS_H

/* Unmounts and removes every pin in RUN/ns; the namespaces live on only
 * while tasks are in them. Quiet when there are none. */
void mntns_unpin(const char *run_dir);

struct run;

/* Removes, after a restore, the link remaps that live in the tree's mount
 * namespaces (collect-remaps' records with mntns), each inside its
 * namespace through its pin; call before mntns_unpin. Returns how many. */
int mntns_remove_remaps(const struct run *r);

/* Removes, while the dumped tree still runs (a failed or --leave-running
 * dump), the link remaps dump-files made inside the tree's own mount
 * namespace, in a child that enters it (its paths are from the
 * namespace's root, whatever root the tree's root task has); nothing when
 * it has none. */
int mntns_remove_live_remaps(const char *images, int root);

#endif
