/* driver: the amber CLI. main.c dispatches to one cmd_* per subcommand;
 * each returns the process exit status (lib/exitcodes.h). */
#ifndef AMBER_DRIVER_H
#define AMBER_DRIVER_H

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

/* driver/report.c: the subcommand errors are reported for (set by main),
 * and the one function every driver error goes through. */
void drv_set_command(const char *cmd);
void drv_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
