/* pstree: checks on the dumped process tree and the order to create it in.
 * Pure functions over PstreeEntry records, tested in tests/unit/test_pstree.c. */
#ifndef AMBER_PSTREE_H
#define AMBER_PSTREE_H

#include "images/pstree.pb-c.h"
#include "lib/err.h"

/* Checks the tree's shape (one root, unique pids and tids, parents present,
 * leaders first) and orders it parents first, in place. */
int pstree_check_and_order(PstreeEntry **procs, int nr, struct err *e);

/* Adds helper entries for sessions and process groups whose leader is not in
 * the tree (it exited), so restore can recreate them: a session helper calls
 * setsid() and creates the session's members for their parent; a group
 * helper leads the group until its members joined. The root's own session
 * and group, from outside the tree, are inherited and need none. The
 * helpers come first in *procs (which is reallocated); call before ordering. */
int pstree_add_helpers(PstreeEntry ***procs, int *nr, struct err *e);

#endif
