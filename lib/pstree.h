/* pstree: checks on the dumped process tree and the order to create it in.
 * Pure functions over PstreeEntry records, tested in tests/unit/test_pstree.c. */
#ifndef AMBER_PSTREE_H
#define AMBER_PSTREE_H

#include "images/pstree.pb-c.h"
#include "lib/err.h"

/* Checks the tree's shape (one root, unique pids and tids, parents present,
 * leaders first) and orders it parents first, in place. */
int pstree_check_and_order(PstreeEntry **procs, int nr, struct err *e);

#endif
