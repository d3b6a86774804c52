/* fds: every inherited fd a stage can be given, in one place.
 *
 * The driver passes live objects as fds and names them on the stage's
 * command line (--fd NAME=N), so a hand run may use any numbers. The numbers
 * below are only the driver's defaults; it checks them for collisions before
 * dup2 and closes everything else.
 */
#ifndef AMBER_FDS_H
#define AMBER_FDS_H

/* seize: control pipe from the driver ("release kill" / "release resume").
 * EOF on it means the driver died: seize resumes the tree. */
#define FD_NAME_CONTROL	"control"
#define FD_DEF_CONTROL	10

/* restore-files -> restore-tasks: unix socket carrying opened files
 * (SCM_RIGHTS, each with an FdPassHeader naming its file id). */
#define FD_NAME_FILES	"files"
#define FD_DEF_FILES	11

/* The log fd, when the driver gives one instead of stderr. */
#define FD_NAME_LOG	"log"
#define FD_DEF_LOG	12

/* Every driver-assigned fd is at or above this, below it are stdio. */
#define FD_FIRST_PASSED	10
#define FD_LAST_PASSED	19

#endif
