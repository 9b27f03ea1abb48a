//go:build cgo

/*
 * tuning_cmonitor.c: the part of a shim that runs while its container
 * runs, in C.
 *
 * Engine tuning: skip on first reading; docs/performance.md tells why it
 * exists. monitor.go's superviseGo does the same work in Go, and is what
 * a build without cgo runs.
 *
 * Why C: a shim lives as long as its container, one per container, so its
 * memory is paid once per container. A Go process re-executed from the
 * engine's binary idles at 2 MiB for a small binary and 5 MiB and more for
 * the daemon's: the Go runtime's heap, and the pages of the binary its
 * start-up touches. This loop needs none of that. The Go shim starts the
 * container (all of chapters 01-05 run there), then replaces itself with
 * this code by execve(2), keeping its PID, its child (the container's
 * init) and the file descriptors it passes on. Measured RSS: see the
 * package documentation. (Podman's conmon is C for the same reason.)
 *
 * The functions below mirror package logs (Writer) and monitor.go
 * (superviseGo), which do the same in Go for builds without cgo, and for
 * a container's first moments (cMonitorAfter); the tests run both. Keep
 * them in step.
 *
 * How the code gets control: berth_shim_early runs as an ELF constructor
 * (see monitor_cgo.go), before the Go runtime starts, in every process of
 * a binary that links package shim. It returns at once unless argv[0]
 * names a shim.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECORD (16 * 1024)     /* logs.MaxRecord */
#define CHUNK (256 * 1024)         /* the most one read takes from a pipe */
#define DRAIN_TIMEOUT_MS 5000      /* drainTimeout in monitor.go */
#define PATH_LEN 4200

/* ---------------------------------------------------------------------
 * The log writer: logs.Writer in C. One record per line:
 *   2024-05-01T09:30:00.123456789Z stdout F hello
 * ------------------------------------------------------------------- */

struct logw {
	char path[PATH_LEN];
	int fd;
	long long size;     /* bytes in the current file */
	long long max_size; /* 0: never rotate */
	int max_files;      /* files kept, the current one included; >= 1 */
	int broken;         /* a write failed: stop logging, keep draining */
	char *buf;          /* the records of one chunk, written with one write(2) */
	size_t len, cap;
};

static void file_name(const char *path, int i, char *out, size_t n)
{
	if (i == 0)
		snprintf(out, n, "%s", path);
	else
		snprintf(out, n, "%s.%d", path, i);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* log_open opens the current file for appending. A file that does not
 * end in a newline was cut in the middle of a record: a newline ends the
 * torn record, so that the next one starts on a line of its own. */
static int log_open(struct logw *l)
{
	struct stat st;
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0 || fstat(l->fd, &st) < 0)
		return -1;
	l->size = st.st_size;
	if (l->size > 0) {
		char last = 0;
		int r = open(l->path, O_RDONLY | O_CLOEXEC);
		if (r < 0)
			return -1;
		ssize_t got = pread(r, &last, 1, l->size - 1);
		close(r);
		if (got != 1)
			return -1;
		if (last != '\n') {
			if (write_all(l->fd, "\n", 1) < 0)
				return -1;
			l->size++;
		}
	}
	return 0;
}

static void log_flush(struct logw *l)
{
	if (l->len > 0 && !l->broken) {
		if (write_all(l->fd, l->buf, l->len) < 0)
			l->broken = 1;
		else
			l->size += (long long)l->len;
	}
	l->len = 0;
}

/* log_rotate: container.log.1 -> .2, container.log -> .1, new
 * container.log; the file renamed onto the last name is the oldest and
 * is replaced. With max-file=1 the file is unlinked instead, so that a
 * follower (holding it open) can tell the new file from the old. */
static void log_rotate(struct logw *l)
{
	char from[PATH_LEN], to[PATH_LEN];
	close(l->fd);
	l->fd = -1;
	if (l->max_files == 1 && unlink(l->path) < 0 && errno != ENOENT) {
		l->broken = 1;
		return;
	}
	for (int i = l->max_files - 1; i >= 1; i--) {
		file_name(l->path, i - 1, from, sizeof from);
		file_name(l->path, i, to, sizeof to);
		if (rename(from, to) < 0 && errno != ENOENT) {
			l->broken = 1;
			return;
		}
	}
	if (log_open(l) < 0)
		l->broken = 1;
}

static void log_append(struct logw *l, const char *p, size_t n)
{
	if (l->len + n > l->cap) {
		size_t cap = l->cap * 2 > l->len + n ? l->cap * 2 : l->len + n;
		char *b = realloc(l->buf, cap);
		if (b == NULL) {
			l->broken = 1;
			return;
		}
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
}

/* format_time writes t as 2006-01-02T15:04:05.000000000Z (logs.TimeLayout). */
static int format_time(char *out, size_t n, const struct timespec *t)
{
	struct tm tm;
	gmtime_r(&t->tv_sec, &tm);
	return snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec, t->tv_nsec);
}

/* log_chunk logs one read of a stream: an F record per line it ends, a P
 * record for what follows the last newline and for each MAX_RECORD piece
 * of a longer line. Before a record that would take the file past
 * max_size, the records so far are written and the file rotated. */
static void log_chunk(struct logw *l, const char *stream, const char *chunk, size_t n)
{
	char stamp[48];
	struct timespec now;
	size_t name_len = strlen(stream);
	int stamp_len;

	if (l->broken)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	stamp_len = format_time(stamp, sizeof stamp, &now);
	while (n > 0) {
		const char *nl = memchr(chunk, '\n', n);
		size_t take, skip;
		char tag;
		if (nl != NULL && (size_t)(nl - chunk) <= MAX_RECORD) {
			take = (size_t)(nl - chunk);
			skip = take + 1;
			tag = 'F';
		} else if (n > MAX_RECORD) {
			take = skip = MAX_RECORD;
			tag = 'P';
		} else {
			take = skip = n;
			tag = 'P';
		}
		size_t size = (size_t)stamp_len + 1 + name_len + 3 + take + 1;
		if (l->max_size > 0 && l->size + (long long)(l->len + size) > l->max_size) {
			log_flush(l);
			if (l->size > 0 && !l->broken)
				log_rotate(l);
		}
		if (l->broken)
			return;
		char sep[3] = {' ', tag, ' '};
		log_append(l, stamp, (size_t)stamp_len);
		log_append(l, " ", 1);
		log_append(l, stream, name_len);
		log_append(l, sep, 3);
		log_append(l, chunk, take);
		log_append(l, "\n", 1);
		chunk += skip;
		n -= skip;
	}
	log_flush(l);
}

/* ---------------------------------------------------------------------
 * The exit status: exit.json, written atomically (temporary file, fsync,
 * rename, fsync of the directory), before the child is reaped. Without
 * durable (an --rm container, Config.Ephemeral), no fsync: the rename
 * alone keeps it whole for every reader.
 * ------------------------------------------------------------------- */

static int write_exit(const char *dir, int code, int durable)
{
	char path[PATH_LEN], tmp[PATH_LEN], stamp[48], body[160];
	struct timespec now;
	int fd, n, rc = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	format_time(stamp, sizeof stamp, &now);
	n = snprintf(body, sizeof body, "{\"exitCode\":%d,\"finishedAt\":\"%s\"}\n", code, stamp);
	snprintf(path, sizeof path, "%s/exit.json", dir);
	snprintf(tmp, sizeof tmp, "%s/.exit.json.tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write_all(fd, body, (size_t)n) < 0 || (durable && fsync(fd) < 0))
		rc = -1;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	fd = durable ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return rc;
}

/* exit_status turns waitid's report into a shell's status: the exit
 * code, or 128+N for death by signal N. */
static int exit_status(const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		return si->si_status;
	if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED)
		return 128 + si->si_status;
	return -1;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------
 * The monitor: one poll(2) loop over the container's stdout and stderr,
 * its init (a pidfd, readable when init exits), and, with run -i, the
 * stdin FIFO and the container's stdin pipe.
 *
 * With a terminal (run -t), OUT_FD reads the terminal's master, ERR_FD is
 * -1 (a terminal has one output), IN_FD writes to the master, and
 * CONSOLE_FD is the master itself: it stays open until exit.json is
 * written, so that the slave's name, which Resize opens, cannot be given
 * to another terminal while the container still counts as running. Other
 * descriptors are -1 when unused.
 *
 * argv: berth-shim-monitor DIR PID LOCK_FD OUT_FD ERR_FD IN_FD MAX_SIZE MAX_FILES LOG_STDIN CONSOLE_FD SUPERVISOR_LOCK DURABLE
 * ------------------------------------------------------------------- */

/* supervised: does a supervisor hold the lock at path? It holds it
 * exclusively, so a shared lock cannot be had meanwhile. */
static int supervised(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void monitor_main(int argc, char **argv)
{
	if (argc != 13)
		_exit(2);
	const char *dir = argv[1];
	pid_t pid = (pid_t)atoi(argv[2]);
	int lock_fd = atoi(argv[3]);
	int out_fd = atoi(argv[4]), err_fd = atoi(argv[5]), in_fd = atoi(argv[6]);
	int log_stdin = atoi(argv[9]);
	int console_fd = atoi(argv[10]);
	int fifo_fd = -1, exited = 0, status = -1;
	long long deadline = 0;
	static struct logw log;
	static char buf[CHUNK], pend[CHUNK]; /* static: no big stack frames */
	size_t pend_len = 0, pend_off = 0;
	siginfo_t si;

	/* Show as berth-shim in ps (we were executed as /proc/self/exe). */
	prctl(PR_SET_NAME, "berth-shim", 0, 0, 0);
	/* A client that goes away while we write to the container's stdin
	 * must not kill the shim; nor may a hang-up of the session. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	snprintf(log.path, sizeof log.path, "%s/container.log", dir);
	log.max_size = atoll(argv[7]);
	log.max_files = atoi(argv[8]) > 0 ? atoi(argv[8]) : 1;
	if (log_open(&log) < 0)
		log.broken = 1; /* keep draining the pipes all the same */

	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (in_fd >= 0) {
		char fifo[PATH_LEN];
		snprintf(fifo, sizeof fifo, "%s/stdin", dir);
		/* Non-blocking open: no writer is needed yet. poll reports
		 * nothing on a FIFO that never had a writer, so the
		 * container's stdin stays open until a client attaches and
		 * then hangs up. */
		fifo_fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
	}

	for (;;) {
		struct pollfd fds[5];
		int nf = 0, i_out = -1, i_err = -1, i_pid = -1, i_fifo = -1, timeout = -1;

		if (exited && out_fd < 0 && err_fd < 0)
			break;
		if (out_fd >= 0)
			i_out = nf, fds[nf++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
		if (err_fd >= 0)
			i_err = nf, fds[nf++] = (struct pollfd){.fd = err_fd, .events = POLLIN};
		if (!exited && pidfd >= 0)
			i_pid = nf, fds[nf++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (!exited && fifo_fd >= 0 && pend_len == 0)
			i_fifo = nf, fds[nf++] = (struct pollfd){.fd = fifo_fd, .events = POLLIN};
		if (!exited && in_fd >= 0 && pend_len > 0)
			fds[nf++] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
		if (exited) {
			long long left = deadline - now_ms();
			if (left <= 0)
				break;
			timeout = (int)left;
		} else if (pidfd < 0) {
			timeout = 100; /* no pidfd (Linux < 5.3): look with waitid */
		}

		if (poll(fds, (nfds_t)nf, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}

		int *streams[2] = {&out_fd, &err_fd};
		int idx[2] = {i_out, i_err};
		const char *names[2] = {"stdout", "stderr"};
		for (int s = 0; s < 2; s++) {
			if (idx[s] < 0 || fds[idx[s]].revents == 0)
				continue;
			ssize_t n = read(*streams[s], buf, sizeof buf);
			if (n > 0)
				log_chunk(&log, names[s], buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				close_fd(streams[s]); /* EOF; EIO from a terminal without slave */
		}

		if (!exited && (pidfd < 0 || (i_pid >= 0 && fds[i_pid].revents))) {
			/* WNOWAIT: look, but leave the zombie. Until exit.json
			 * is written, the PID in state.json must stay ours. */
			memset(&si, 0, sizeof si);
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT | WNOHANG) == 0 && si.si_pid == pid) {
				exited = 1;
				status = exit_status(&si);
				deadline = now_ms() + DRAIN_TIMEOUT_MS;
			}
		}

		if (i_fifo >= 0 && fds[i_fifo].revents) {
			ssize_t n = read(fifo_fd, pend, sizeof pend);
			if (n > 0) {
				if (log_stdin)
					log_chunk(&log, "stdin", pend, (size_t)n);
				pend_len = (size_t)n;
				pend_off = 0;
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* The client hung up: the container's stdin ends. */
				close_fd(&fifo_fd);
				close_fd(&in_fd);
			}
		}
		if (pend_len > 0 && in_fd >= 0) {
			ssize_t w = write(in_fd, pend + pend_off, pend_len - pend_off);
			if (w > 0) {
				pend_off += (size_t)w;
				if (pend_off == pend_len)
					pend_len = 0;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				/* The container closed its stdin: drop the rest. */
				pend_len = 0;
				close_fd(&fifo_fd);
				close_fd(&in_fd);
			}
		}
	}

	if (!exited) {
		/* The loop broke on an error: get the status the slow way. */
		memset(&si, 0, sizeof si);
		while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
			;
		status = exit_status(&si);
	}
	log_flush(&log);
	if (log.fd >= 0)
		close(log.fd);
	write_exit(dir, status, atoi(argv[12]));
	close_fd(&console_fd);
	/* Now the PID may go. */
	while (waitid(P_PID, (id_t)pid, &si, WEXITED) < 0 && errno == EINTR)
		;
	close_fd(&out_fd);
	close_fd(&err_fd);
	close_fd(&in_fd);
	close_fd(&fifo_fd);
	close_fd(&pidfd);

	/* A supervisor (berthd) holds its lock: it cleans up, in its own
	 * process, sooner than the Go start below (see supervisor.go). */
	if (supervised(argv[11]))
		_exit(0);

	/* Back to Go for the clean-up (cgroup, network: the engine's code),
	 * in this same process, still holding the lock. */
	char lock_arg[16];
	snprintf(lock_arg, sizeof lock_arg, "%d", lock_fd);
	char *args[] = {"berth-shim", "cleanup", (char *)dir, lock_arg, NULL};
	execv("/proc/self/exe", args);
	_exit(1); /* the next command that finds the container cleans up */
}

/* ---------------------------------------------------------------------
 * The entry point, run before the Go runtime starts.
 * ------------------------------------------------------------------- */

static char detached[] = "detached";

void berth_shim_early(int argc, char **argv)
{
	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return;
	if (strcmp(argv[0], "berth-shim-monitor") == 0) {
		monitor_main(argc, argv);
		_exit(1);
	}
	if (argc >= 3 && strcmp(argv[0], "berth-shim") == 0 && strcmp(argv[1], "launch") == 0) {
		/* Detach, the classic way: fork, and let the parent exit at
		 * once. The child is an orphan, adopted by PID 1 (or the
		 * nearest subreaper): it outlives the command that started
		 * it. setsid() gives it a session of its own, away from the
		 * terminal and its signals. Doing this here, before the Go
		 * runtime exists, is safe: the process has one thread. */
		pid_t child = fork();
		if (child < 0)
			return; /* Go tries again (launchGo) */
		if (child > 0)
			_exit(0);
		setsid();
		/* Tell Go which phase this is: os.Args is read from argv
		 * after the constructors have run. */
		argv[1] = detached;
	}
}
