/* log: leveled, timestamped log lines named after the stage.
 *
 * Lines go to one fd (stderr unless --log-fd/-o says otherwise) as
 *	"(   0.012345) seize: W: message"
 * The driver reads these lines from each stage and files them into the run
 * directory and -o LOGFILE. Progress lines ("P: ...") are meant for a
 * terminal and are only written once log_set_progress(1) asked for them.
 *
 * Levels follow -v: 0 errors, 1 warnings, 2 info (default), 3 debug, 4 trace
 * (every remote syscall).
 */
#ifndef AMBER_LOG_H
#define AMBER_LOG_H

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

/* Set once by the stage skeleton or the driver before any logging. */
void log_init(const char *name, int level, int fd);
int  log_level(void);
int  log_fd(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One progress line; the driver redraws it in place on a terminal. */
void log_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ask for progress lines (the driver passes --progress when on a terminal). */
void log_set_progress(int on);

#define pr_err(...)   log_msg(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) do { if (log_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define pr_trace(...) do { if (log_level() >= LOG_TRACE) log_msg(LOG_TRACE, __VA_ARGS__); } while (0)

#endif
