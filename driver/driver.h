/* driver: the amber CLI. main.c dispatches to one cmd_* per subcommand;
 * each returns the process exit status (lib/exitcodes.h). */
#ifndef AMBER_DRIVER_H
#define AMBER_DRIVER_H

struct err;

int cmd_dump(int argc, char **argv);
int cmd_predump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_show(int argc, char **argv);	/* driver/show.c */
int cmd_check(int argc, char **argv);	/* driver/check.c */
int cmd_stage(int argc, char **argv);
/* amber page-server: runs amber-page-server (stages/page-server) with the same options. */
int cmd_page_server(int argc, char **argv);
/* amber migrate: pre-dumps, a final dump and a lazy restore (driver/migrate.c). */
int cmd_migrate(int argc, char **argv);
int cmd_gc(int argc, char **argv);	/* driver/gc.c */
int cmd_swrk(int argc, char **argv);	/* driver/swrk.c */
int cmd_mount_delayed(int argc, char **argv);	/* driver/delayed.c */

/* driver/report.c: the subcommand errors are reported for (set by main),
 * and the one function every driver error goes through. */
void drv_set_command(const char *cmd);
void drv_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last message drv_error reported (empty if none): swrk answers a
 * failed request with it. */
const char *drv_last_error(void);
/* With swrk, errors go only to the log, never to stderr (the container's). */
void drv_set_quiet(int quiet);

/* Notifications between the rows of the dump and restore tables, for a
 * container runtime (driver/swrk.c): the hook is set once before the
 * command runs; drv_notify is 0 when none is set. A hook's failure (the
 * caller said no) fails the command, which rolls back as for any other. */
typedef int (*drv_notify_fn)(void *arg, const char *script, int pid, struct err *e);
void drv_set_notify(drv_notify_fn fn, void *arg);
int drv_notify(const char *script, int pid, struct err *e);
/* The pid of the root the last restore made (as this process sees it). */
void drv_set_restored_pid(int pid);
int drv_restored_pid(void);

#endif
