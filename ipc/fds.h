/* fds: every inherited fd a stage can be given, in one place.
 *
 * The driver passes live objects as fds and names them on the stage's
 * command line (--fd NAME=N), so a hand run may use any numbers. The numbers
 * below are only the driver's defaults; before dup2 the driver checks
 * (run_check_fds in driver/run.c) that no two fds of a stage share a
 * number and that each lies in FD_FIRST_PASSED..FD_LAST_PASSED or at
 * FD_FIRST_INHERIT and up, and it closes everything else.
 */
#ifndef AMBER_FDS_H
#define AMBER_FDS_H

/* seize: control pipe from the driver ("release kill" / "release resume").
 * EOF on it means the driver died: seize resumes the tree. */
#define FD_NAME_CONTROL	"control"
#define FD_DEF_CONTROL	10

/* restore-files -> restore-tasks: unix socket carrying opened files
 * (SCM_RIGHTS; the data is a u32 count and a u32 file id per fd, ipc/fdpass.h). */
#define FD_NAME_FILES	"files"
#define FD_DEF_FILES	11

/* build-mntns -> restore-files: unix socket carrying, for each file that
 * lies under an overmount in a mount namespace build-mntns made, an O_PATH
 * fd of its directory taken before the overmount was mounted (fdpass.h,
 * named by file id); the file is opened relative to it. */
#define FD_NAME_HIDDEN	"hidden"
#define FD_DEF_HIDDEN	12

/* restore-files, with --shell-job: the terminal amber runs on, given to
 * every terminal the dump left outside the tree. */
#define FD_NAME_TTY	"tty"
#define FD_DEF_TTY	13

/* restore-tasks <-> verify: a unix stream socket. restore-tasks sends a
 * state stream of `task` records (host_pid: where the restored process is)
 * once the tree is made and before any of it runs; verify answers with a
 * stream holding one `verdict` record. */
#define FD_NAME_VERIFY	"verify"
#define FD_DEF_VERIFY	14

/* amber-track: the listening unix socket (SOCK_SEQPACKET) bound at
 * DIR/track.sock, made by seize when it starts the holder (lib/track.h). */
#define FD_NAME_TRACK	"track"
#define FD_DEF_TRACK	15

/* build-mntns -> the driver, which hands it to amber-mountd: a unix
 * socket carrying the /dev/fuse fd of each stub put on a delayed mount
 * (restore --delay-mount), named by the delayed mount's id (fdpass.h). */
#define FD_NAME_STUBS	"stubs"
#define FD_DEF_STUBS	18

/* amber-mountd <-> amber-stubfs: a SOCK_SEQPACKET socketpair of
 * lib/delayproto.h commands (run, real ID with an fd, quit). */
#define FD_NAME_MOUNTD	"mountd"
#define FD_DEF_MOUNTD	17

/* amber-mountd -> the driver: a pipe on which it says `ready` once its
 * socket listens and amber-stubfs serves the stubs. */
#define FD_NAME_READY	"ready"
#define FD_DEF_READY	19

/* Every driver-assigned fd is at or above this, below it are stdio. */
#define FD_FIRST_PASSED	10
#define FD_LAST_PASSED	19

/* restore-files: the fds of --inherit-fd, unnamed (the stage's own
 * --inherit-fd fd[N]:KEY names them), from here up. */
#define FD_FIRST_INHERIT 20

#endif
