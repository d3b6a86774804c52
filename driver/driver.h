/* driver: the amber CLI. main.c dispatches to one cmd_* per subcommand;
 * each returns the process exit status (ipc/exitcodes.h). */
#ifndef AMBER_DRIVER_H
#define AMBER_DRIVER_H

int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_show(int argc, char **argv);	/* driver/show.c */
int cmd_check(int argc, char **argv);	/* driver/check.c */
int cmd_stage(int argc, char **argv);
int cmd_gc(int argc, char **argv);	/* driver/gc.c */

#endif
