/* tcprepair: the driver's undo of dump --tcp-established. dump-files
 * leaves the tree's established TCP connections in repair mode when the
 * tree is to be killed (closed in repair mode, a connection goes without a
 * FIN or a reset); a dump that fails afterwards resumes the tree, so its
 * connections must leave repair mode first. */
#ifndef AMBER_DRIVER_TCPREPAIR_H
#define AMBER_DRIVER_TCPREPAIR_H

#include <sys/types.h>

/* Takes every TCP socket of root's process tree out of repair mode
 * (best effort: a warning for each one that cannot be). */
void tcprepair_leave_tree(pid_t root);

#endif
