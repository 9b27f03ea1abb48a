//go:build cgo

/*
 * server.c: the fork server (Server in server.go). One process per
 * daemon, started once, that forks every process the daemon asks for
 * into a container and confines it there, in C: neither the server nor
 * its children ever start the Go runtime, so a process costs one fork of
 * a small process and the container's own execve, not a start of the
 * daemon's program (see doc.go, "Two ways in").
 *
 *   argv: berth-nsenter-server
 *   fd 3: a SOCK_SEQPACKET socket to the daemon (SERVER_FD)
 *
 * A request is one message: the header (struct request), then the
 * seccomp program, the supplementary groups and the strings (the working
 * directory, the arguments, the environment), NUL-terminated; with it,
 * by SCM_RIGHTS, the descriptors, in this order: stdin, stdout, stderr,
 * the error pipe, the wait pipe, the namespaces (ns_flags), the early
 * cgroup.procs files, the others.
 *
 * The server stays in the host's namespaces. Before each fork it points
 * its PID namespace "for children" at the container's (setns
 * CLONE_NEWPID moves only the children to come), so that it is in no
 * container and no container's /proc shows it; the child enters the
 * other namespaces itself (it has one thread) and then does what
 * inside.go does for Command's helper, in the same order. The server
 * writes "pid N" on the wait pipe after the fork and "exit S" once it
 * has reaped the child; the child writes "error MSG" on the error pipe if
 * it cannot get in, and that pipe closes at its execve.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define SERVER_FD 3
#define REQUEST_MAGIC 0x62727468u /* "brth"; requestMagic in server.go */
#define MAX_REQUEST (1 << 20)
#define MAX_FDS 64
#define MAX_NS 16

#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC 1
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SETPERM 5
#define SESSION_KEYRING_PERM 0x3f1b0000 /* rootfs.sessionKeyringPerm */

#define EXIT_CANNOT_INVOKE 126 /* namespace.ExitCannotInvoke */
#define EXIT_NOT_FOUND 127     /* namespace.ExitNotFound */

/* request is the fixed part of a message; server.go writes it
 * (little-endian, the only byte order berth runs on). */
struct request {
	uint32_t magic;
	uint32_t nns;             /* namespace descriptors */
	uint32_t ns_flags[MAX_NS]; /* CLONE_NEW* of each, in the order to enter */
	uint32_t early_cgroups;   /* descriptors joined first */
	uint32_t cgroups;         /* descriptors joined last */
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t tty;
	uint32_t no_new_privs;
	uint32_t seccomp;         /* 0: unconfined; else the program's length */
	uint32_t seccomp_flags;
	uint32_t caps_lo, caps_hi; /* the capabilities kept */
	uint32_t nargs, nenv;
	uint32_t strings_len;
	uint32_t zygote;          /* 1: start a zygote (run_zygote), not a command */
};

/* A zygote's request (struct zygote_request) is this magic alone, with
 * five descriptors: stdin, stdout, stderr, the error and wait pipes. */
#define ZYGOTE_MAGIC 0x7a796774u /* "zygt"; zygoteMagic in server.go */

/* A child, and the wait pipe its status goes to. */
struct child {
	pid_t pid;
	int wait_fd;
	int out_fd; /* a zygote's copy of the check's stdout, or -1 */
};

static struct child *children;
static size_t nchildren, cap_children;

static void write_line(int fd, const char *fmt, ...);

/* reap_table collects every child that has ended and reports its status
 * ("exit N", 128+N for signal N) on its wait pipe, for the server's
 * children and for a zygote's alike: each keeps its own table. */
static void reap_table(struct child *t, size_t *n)
{
	for (;;) {
		int status;
		size_t i;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		for (i = 0; i < *n; i++) {
			if (t[i].pid != pid)
				continue;
			write_line(t[i].wait_fd, "exit %d\n",
				   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
			close(t[i].wait_fd);
			if (t[i].out_fd >= 0)
				close(t[i].out_fd);
			t[i] = t[--*n];
			break;
		}
	}
}
static int own_pidns = -1; /* the server's PID namespace, for requests without one */

/* errstr is strerror as Go words errno values: lower case. */
static const char *errstr(int err)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* berth_vfail is nsenter.c's: "error MSG\n" in one write, then _exit. */
__attribute__((noreturn)) void berth_vfail(int fd, const char *fmt, va_list ap);

/* child_fail reports msg on the error pipe (fd err_fd) and exits. */
__attribute__((noreturn, format(printf, 2, 3))) static void child_fail(int err_fd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	berth_vfail(err_fd, fmt, ap);
}

/* command_fail reports a command that cannot run on its stderr, as a
 * shell does (inside.go's commandFailed), and exits with status. */
__attribute__((noreturn, format(printf, 2, 3))) static void command_fail(int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof msg, "berth-nsenter: ");
	va_start(ap, fmt);
	n += vsnprintf(msg + n, sizeof msg - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof msg - 2)
		n = (int)sizeof msg - 2;
	msg[n++] = '\n';
	if (write(2, msg, (size_t)n) < 0) {
		/* nothing to do */
	}
	_exit(status);
}

static void join_cgroups(int err_fd, const int *fds, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (write(fds[i], "0", 1) < 0) {
			char path[64], target[512];
			ssize_t l;

			snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
			l = readlink(path, target, sizeof target - 1);
			target[l < 0 ? 0 : l] = '\0';
			child_fail(err_fd, "joining the container's cgroup (%s): %s", l < 0 ? path : target, errstr(errno));
		}
		close(fds[i]);
	}
}

/* become_user is inside.go's becomeUser: keep the capabilities across
 * the change of uid, then make the permitted set effective again for
 * drop_capabilities to trim. */
static void become_user(int err_fd, const struct request *r, const uint32_t *groups)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	gid_t g[256];
	uint32_t i;

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		child_fail(err_fd, "prctl(PR_SET_KEEPCAPS): %s", errstr(errno));
	if (r->ngroups > 256)
		child_fail(err_fd, "too many groups (%u)", r->ngroups);
	for (i = 0; i < r->ngroups; i++)
		g[i] = groups[i];
	/* Raw system calls: this process has one thread. */
	if (syscall(SYS_setgroups, (size_t)r->ngroups, g) < 0)
		child_fail(err_fd, "setgroups: %s", errstr(errno));
	if (syscall(SYS_setresgid, r->gid, r->gid, r->gid) < 0)
		child_fail(err_fd, "setgid %u: %s", r->gid, errstr(errno));
	if (syscall(SYS_setresuid, r->uid, r->uid, r->uid) < 0)
		child_fail(err_fd, "setuid %u: %s", r->uid, errstr(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		child_fail(err_fd, "prctl(PR_SET_KEEPCAPS): %s", errstr(errno));
	if (syscall(SYS_capget, &hdr, data) < 0)
		child_fail(err_fd, "capget: %s", errstr(errno));
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	if (syscall(SYS_capset, &hdr, data) < 0)
		child_fail(err_fd, "capset: %s", errstr(errno));
}

/* last_cap is rootfs's lastCap: the highest capability this kernel
 * knows. */
static int last_cap(int err_fd)
{
	char buf[16];
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC), n;

	if (fd >= 0) {
		ssize_t l = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (l > 0) {
			buf[l] = '\0';
			n = atoi(buf);
			if (n >= 0 && n < 64)
				return n;
		}
	}
	for (n = 0; n < 64; n++)
		if (prctl(PR_CAPBSET_READ, n, 0, 0, 0) < 0) {
			if (n == 0)
				child_fail(err_fd, "reading the bounding set: %s", errstr(errno));
			return n - 1;
		}
	return 63;
}

/* drop_capabilities is rootfs.DropCapabilities: the bounding set first
 * (while CAP_SETPCAP is effective), the ambient set emptied, then the
 * permitted and effective sets lowered to what is kept, inheritable
 * empty. */
static void drop_capabilities(int err_fd, uint64_t keep)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	int last = last_cap(err_fd), n;
	uint64_t have;

	if (last < 63)
		keep &= (UINT64_C(1) << (last + 1)) - 1;
	for (n = 0; n <= last; n++)
		if (!(keep & (UINT64_C(1) << n)) && prctl(PR_CAPBSET_DROP, n, 0, 0, 0) < 0)
			child_fail(err_fd, "dropping capability %d from the bounding set: %s", n, errstr(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		child_fail(err_fd, "clearing the ambient capabilities: %s", errstr(errno));
	if (syscall(SYS_capget, &hdr, data) < 0)
		child_fail(err_fd, "capget: %s", errstr(errno));
	have = (uint64_t)data[0].permitted | (uint64_t)data[1].permitted << 32;
	keep &= have;
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) < 0)
		child_fail(err_fd, "capset to %#llx: %s", (unsigned long long)keep, errstr(errno));
}

/* join_keyring gives the process a new session keyring of its own
 * (rootfs's joinSessionKeyring), so that no two execs share one. */
static void join_keyring(int err_fd)
{
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL, 0, 0, 0);

	if (id < 0 && errno != ENOSYS)
		child_fail(err_fd, "joining a new session keyring: %s", errstr(errno));
	if (id >= 0 && syscall(SYS_keyctl, KEYCTL_SETPERM, id, SESSION_KEYRING_PERM, 0, 0) < 0)
		child_fail(err_fd, "session keyring %ld: setting its permissions: %s", id, errstr(errno));
}

/* confine loads the container's seccomp filter, lowers the capabilities
 * and sets no_new_privs: inside.go's order. */
static void confine(int err_fd, const struct request *r, const struct sock_filter *prog)
{
	if (r->seccomp > 0) {
		struct sock_fprog fprog = {(unsigned short)r->seccomp, (struct sock_filter *)prog};
		long ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, r->seccomp_flags | SECCOMP_FILTER_FLAG_TSYNC, &fprog);
		if (ret < 0)
			child_fail(err_fd, "seccomp: installing the filter: %s", errstr(errno));
		if (ret > 0)
			child_fail(err_fd, "seccomp: installing the filter: thread %ld cannot be synchronized", ret);
	}
	drop_capabilities(err_fd, (uint64_t)r->caps_lo | (uint64_t)r->caps_hi << 32);
	if (r->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(err_fd, "prctl(PR_SET_NO_NEW_PRIVS): %s", errstr(errno));
}

/* is_executable is namespace's checkExecutable: 0, or ENOENT-like
 * (missing), or EACCES (there but not runnable). */
static int is_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (access(path, X_OK) < 0)
		return EACCES;
	return 0;
}

/* look_path is namespace.LookPath in the container: the command's path,
 * or the process ends as a shell would (127 not found, 126 not
 * runnable). */
static const char *look_path(const char *name, char *const *env, char *buf, size_t size)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; /* namespace.DefaultPath */
	const char *p, *denied = NULL;
	static char denied_buf[8192];
	int err, i;

	if (strchr(name, '/') != NULL) {
		err = is_executable(name);
		if (err == 0)
			return name;
		if (err == EISDIR)
			command_fail(EXIT_CANNOT_INVOKE, "%s: is a directory: permission denied", name);
		if (err == EACCES)
			command_fail(EXIT_CANNOT_INVOKE, "%s: permission denied", name);
		command_fail(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE, "stat %s: %s", name, errstr(err));
	}
	for (i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			path = env[i] + 5; /* the last one wins, as pathOf */
	for (p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t len = (size_t)(end - p);

		if (len == 0)
			snprintf(buf, size, "%s", name); /* filepath.Join(".", name) */
		else if (len == 1 && p[0] == '/')
			snprintf(buf, size, "/%s", name);
		else
			snprintf(buf, size, "%.*s/%s", (int)len, p, name);
		err = is_executable(buf);
		if (err == 0)
			return buf;
		if (denied == NULL && (err == EACCES || err == EISDIR)) {
			snprintf(denied_buf, sizeof denied_buf, "%s: %spermission denied", buf, err == EISDIR ? "is a directory: " : "");
			denied = denied_buf;
		}
		if (*end == '\0')
			break;
		p = end;
	}
	if (denied != NULL)
		command_fail(EXIT_CANNOT_INVOKE, "%s", denied);
	command_fail(EXIT_NOT_FOUND, "%s: executable file not found in $PATH", name);
}

/* enter_namespaces joins the user namespace first (nsenter.c's
 * enter_rest), then the others; the PID namespace is the forker's doing
 * (it decides where the children are born). */
static void enter_namespaces(int err_fd, const struct request *r, const int *ns)
{
	uint32_t i;

	for (i = 0; i < r->nns; i++)
		if (r->ns_flags[i] == CLONE_NEWUSER && setns(ns[i], CLONE_NEWUSER) < 0)
			child_fail(err_fd, "setns user: %s", errstr(errno));
	for (i = 0; i < r->nns; i++)
		if (r->ns_flags[i] != CLONE_NEWUSER && r->ns_flags[i] != CLONE_NEWPID &&
		    setns(ns[i], (int)r->ns_flags[i]) < 0)
			child_fail(err_fd, "setns %#x: %s", r->ns_flags[i], errstr(errno));
	for (i = 0; i < r->nns; i++)
		close(ns[i]);
}

/* run_child is the forked child: it enters the container, becomes the
 * command's user with its capabilities and filter, and executes it. */
__attribute__((noreturn)) static void run_child(const struct request *r, const struct sock_filter *prog,
						const uint32_t *groups, char *dir, char **args, char **env, int *fds)
{
	int err_fd = fds[3], *ns = fds + 5, *early = ns + r->nns, *late = early + r->early_cgroups;
	sigset_t none;
	char pathbuf[4096];
	const char *path;
	uint32_t i;
	int sig;

	/* The server's signal set-up is not the command's. */
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its streams at 0, 1, 2 (without close-on-exec); everything else
	 * the server holds closes at execve. */
	for (i = 0; i < 3; i++)
		if (dup2(fds[i], (int)i) < 0)
			child_fail(err_fd, "dup2: %s", errstr(errno));
	/* In the server's session (its own, away from the daemon's), as a
	 * helper's command is in its waiter's: a session whose leader is
	 * outside the container. */

	enter_namespaces(err_fd, r, ns);

	/* From here on, inside.go's inside(), step by step. */
	join_cgroups(err_fd, early, r->early_cgroups);
	if (r->tty) { /* inside.go's takeTerminal */
		if (setsid() < 0)
			child_fail(err_fd, "setsid: %s", errstr(errno));
		if (ioctl(0, TIOCSCTTY, 0) < 0)
			child_fail(err_fd, "making stdin the controlling terminal (TIOCSCTTY): %s", errstr(errno));
	}
	become_user(err_fd, r, groups);
	join_keyring(err_fd);
	confine(err_fd, r, prog);

	if (dir[0] != '\0' && chdir(dir) < 0)
		command_fail(EXIT_CANNOT_INVOKE, "working directory: chdir %s: %s", dir, errstr(errno));
	path = look_path(args[0], env, pathbuf, sizeof pathbuf);
	join_cgroups(err_fd, late, r->cgroups);
	execve(path, args, env);
	command_fail(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE, "exec %s: %s", path, errstr(errno));
}

__attribute__((format(printf, 2, 3))) static void write_line(int fd, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof line)
		n = (int)sizeof line - 1;

	if (write(fd, line, (size_t)n) < 0) {
		/* the daemon has given up on it */
	}
}

/* split reads n NUL-terminated strings from *p (before end) into out,
 * followed by NULL. */
static int split(char **p, char *end, uint32_t n, char **out)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		char *nul = memchr(*p, '\0', (size_t)(end - *p));
		if (nul == NULL)
			return -1;
		out[i] = *p;
		*p = nul + 1;
	}
	out[n] = NULL;
	return 0;
}

static void close_all(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * The zygote: one process per container's check (a request with
 * zygote set), forked by the server in the host's PID namespace, that
 * does once what every check of that container would do again (enter
 * the namespaces, become the user, load the filter, lower the
 * capabilities), then forks each check from there. See doc.go, "A
 * zygote per check". Its children do only what can differ from one
 * check to the next: their streams, a keyring of their own, the cgroup,
 * the working directory, the PATH lookup, execve.
 *
 *   fds: stdio (unused), the error pipe ("ready" or "error MSG"), the
 *   wait pipe (the server's), the namespaces, the early and late
 *   cgroup.procs files, then its control socket (SOCK_SEQPACKET), from
 *   which each request is ZYGOTE_MAGIC and five descriptors.
 */

/* zygote_children are the zygote's running checks. */
static struct child zchildren[256];
static size_t nzchildren;

/* run_zygote_child is a check forked by the zygote: what is left of
 * run_child once the zygote has done the rest. */
__attribute__((noreturn)) static void run_zygote_child(const struct request *r, int *early, int *late, char *dir,
						       char **args, char **env, const int *fds, int keyring)
{
	int err_fd = fds[3];
	sigset_t none;
	char pathbuf[4096];
	const char *path;
	int i;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			child_fail(err_fd, "dup2: %s", errstr(errno));
	join_cgroups(err_fd, early, r->early_cgroups);
	if (keyring)
		join_keyring(err_fd);
	if (dir[0] != '\0' && chdir(dir) < 0)
		command_fail(EXIT_CANNOT_INVOKE, "working directory: chdir %s: %s", dir, errstr(errno));
	path = look_path(args[0], env, pathbuf, sizeof pathbuf);
	join_cgroups(err_fd, late, r->cgroups);
	execve(path, args, env);
	command_fail(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE, "exec %s: %s", path, errstr(errno));
}

/* What a check's child needs, on the stack of zygote_serve_one, which
 * is suspended until the child's execve or exit (CLONE_VFORK). */
struct zygote_args {
	const struct request *r;
	int *early, *late;
	char *dir, **args, **env;
	const int *fds;
	int keyring;
};

static int zygote_child_main(void *p)
{
	struct zygote_args *a = p;

	run_zygote_child(a->r, a->early, a->late, a->dir, a->args, a->env, a->fds, a->keyring);
}

/* zygote_serve_one forks one check; -1 once the daemon has closed the
 * control socket. */
static int zygote_serve_one(int ctl, const struct request *r, int *early, int *late, char *dir, char **args,
			    char **env, int keyring)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))];
	uint32_t magic = 0;
	struct iovec iov = {&magic, sizeof magic};
	struct msghdr msg = {0};
	struct cmsghdr *c;
	int fds[8], nfds = 0, i;
	ssize_t n;
	pid_t pid;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof cbuf;
	n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (nfds + k > 8)
				k = 8 - nfds;
			memcpy(fds + nfds, CMSG_DATA(c), (size_t)k * sizeof(int));
			nfds += k;
		}
	}
	if (nfds != 5 || n != sizeof magic || magic != ZYGOTE_MAGIC || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (nfds >= 4)
			write_line(fds[3], "error bad request to the zygote\n");
		close_all(fds, nfds);
		return 0;
	}
	if (nzchildren == sizeof zchildren / sizeof zchildren[0]) {
		write_line(fds[3], "error zygote: too many checks at once\n");
		close_all(fds, nfds);
		return 0;
	}
	/* posix_spawn's way: the child shares the zygote's memory, on a
	 * stack of its own, until its execve, and the zygote waits for
	 * that. No page tables to copy, no copy-on-write faults, no copy to
	 * tear down at execve: a fork of even this small process cost more
	 * than the rest of the child's work. The child writes only its
	 * stack and its own descriptors (CLONE_FILES is not set, nor
	 * CLONE_FS: its dup2, close and chdir are its own). */
	{
		static char stack[64 * 1024] __attribute__((aligned(16)));
		struct zygote_args a = {r, early, late, dir, args, env, fds, keyring};

		pid = clone(zygote_child_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	}
	if (pid < 0) {
		if (errno == ENOMEM)
			write_line(fds[3], "error fork into the container's PID namespace: its init has exited\n");
		else
			write_line(fds[3], "error fork: %s\n", errstr(errno));
		close_all(fds, nfds);
		return 0;
	}
	write_line(fds[4], "pid %ld\n", (long)pid);
	zchildren[nzchildren].pid = pid;
	zchildren[nzchildren].wait_fd = fds[4];
	/* Its stdout is kept until it is reaped, then closed with the
	 * wait pipe: the daemon sees the end of both at once (one wake-up
	 * per check, not one per pipe; Cmd.Probe). */
	zchildren[nzchildren].out_fd = fds[1];
	nzchildren++;
	for (i = 0; i < 4; i++)
		if (i != 1)
			close(fds[i]);
	return 0;
}

/* zygote_probe starts a child that tries what every check's child will
 * do under the container's filter besides the checks' own: a new
 * keyring (1 if it may, 0 if the filter refuses keyctl: then no check
 * can use one, and sharing the zygote's is unseen). The probe's clone,
 * its reaping through the signalfd, poll and recvmsg try the zygote's
 * own system calls: a filter that refuses one of them makes the zygote
 * fail here, and the caller falls back to a fork per check. */
static int zygote_probe_main(void *unused)
{
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL, 0, 0, 0);

	(void)unused;
	_exit(id >= 0 ? 0 : 1);
}

static int zygote_probe(int err_fd, int sfd, int ctl)
{
	static char stack[16 * 1024] __attribute__((aligned(16)));
	struct pollfd pfd = {sfd, POLLIN, 0};
	struct signalfd_siginfo si;
	char byte;
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {0};
	int status;
	pid_t pid;

	/* The same clone as a check's (zygote_serve_one). */
	pid = clone(zygote_probe_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	if (pid < 0)
		child_fail(err_fd, "zygote: clone: %s", errstr(errno));
	if (poll(&pfd, 1, -1) < 0)
		child_fail(err_fd, "zygote: poll: %s", errstr(errno));
	if (read(sfd, &si, sizeof si) < 0)
		child_fail(err_fd, "zygote: reading its signalfd: %s", errstr(errno));
	if (waitpid(pid, &status, 0) != pid)
		child_fail(err_fd, "zygote: waitpid: %s", errstr(errno));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (recvmsg(ctl, &msg, MSG_DONTWAIT | MSG_PEEK | MSG_CMSG_CLOEXEC) < 0 && errno != EAGAIN)
		child_fail(err_fd, "zygote: recvmsg: %s", errstr(errno));
	if (WIFSIGNALED(status))
		return 0; /* killed by the filter at keyctl */
	return WEXITSTATUS(status) == 0;
}

/* run_zygote is the zygote, from the server's fork to its end. */
__attribute__((noreturn)) static void run_zygote(const struct request *r, const struct sock_filter *prog,
						 const uint32_t *groups, char *dir, char **args, char **env, int *fds,
						 pid_t server)
{
	int err_fd = fds[3], *ns = fds + 5, *early = ns + r->nns, *late = early + r->early_cgroups;
	int ctl = late[r->cgroups], sfd, keyring, sig, fd, listening = 1;
	uint32_t i;
	sigset_t mask;

	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	signal(SIGPIPE, SIG_IGN); /* a daemon that stopped reading a wait pipe */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	/* Nothing of the server's crosses: not its socket, not the wait
	 * pipes of its other children, not other zygotes' sockets. Every
	 * descriptor but those of this request is closed (the request's
	 * are above the server's own, but not in one block: they are
	 * marked, then the rest closed one by one). */
	{
		static unsigned char keep[65536];
		int top = 0;
		for (i = 0; i < 5 + r->nns + r->early_cgroups + r->cgroups + 1; i++) {
			if (fds[i] >= 0 && fds[i] < (int)sizeof keep) {
				keep[fds[i]] = 1;
				if (fds[i] > top)
					top = fds[i];
			}
		}
		for (fd = 3; fd <= top; fd++)
			if (!keep[fd])
				close(fd);
		syscall(SYS_close_range, top + 1, ~0U, 0);
	}
	/* Dies with the server (the parent-death signal), set again after
	 * the change of user, which clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != server)
		_exit(1);
	/* Its children are born in the container's PID namespace; the
	 * zygote itself stays in the host's, where no container sees it. */
	for (i = 0; i < r->nns; i++)
		if (r->ns_flags[i] == CLONE_NEWPID && setns(ns[i], CLONE_NEWPID) < 0)
			child_fail(err_fd, "setns pid: %s (has the container exited?)", errstr(errno));
	enter_namespaces(err_fd, r, ns);
	become_user(err_fd, r, groups);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		child_fail(err_fd, "prctl(PR_SET_DUMPABLE): %s", errstr(errno));
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != server)
		_exit(1);
	join_keyring(err_fd);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		child_fail(err_fd, "zygote: signalfd: %s", errstr(errno));
	confine(err_fd, r, prog);
	keyring = zygote_probe(err_fd, sfd, ctl);
	prctl(PR_SET_NAME, (unsigned long)"berth-zygote", 0, 0, 0);
	/* The error pipe last: its end tells the daemon that the zygote
	 * holds nothing of the request's but its own. */
	for (i = 0; i < 5; i++)
		if ((int)i != 3)
			close(fds[i]);
	write_line(err_fd, "ready\n");
	close(err_fd);

	while (listening || nzchildren > 0) {
		struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {listening ? ctl : -1, POLLIN, 0}};

		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0) {
			}
			reap_table(zchildren, &nzchildren);
		}
		if (listening && pfd[1].revents && zygote_serve_one(ctl, r, early, late, dir, args, env, keyring) < 0)
			listening = 0;
	}
	_exit(0);
}

/* serve_one reads one request and forks its child. It returns -1 when
 * the daemon has gone (end of the socket). */
static int serve_one(char *buf)
{
	struct request r;
	char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	struct iovec iov = {buf, MAX_REQUEST};
	struct msghdr msg = {0};
	struct cmsghdr *c;
	int fds[MAX_FDS], nfds = 0;
	ssize_t n;
	char *p, *end, **args, **env, *dir;
	const struct sock_filter *prog;
	const uint32_t *groups;
	uint32_t want, i;
	pid_t pid, server_pid = getpid();

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof cbuf;
	n = recvmsg(SERVER_FD, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (nfds + k > MAX_FDS)
				k = MAX_FDS - nfds;
			memcpy(fds + nfds, CMSG_DATA(c), (size_t)k * sizeof(int));
			nfds += k;
		}
	}
	/* Without its wait pipe a request has nobody to answer: dropped. */
	if ((size_t)n < sizeof r || nfds < 5 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		close_all(fds, nfds);
		return 0;
	}
	memcpy(&r, buf, sizeof r);
	want = 5 + r.nns + r.early_cgroups + r.cgroups + (r.zygote ? 1 : 0);
	end = buf + n;
	p = buf + sizeof r;
	if (r.magic != REQUEST_MAGIC || r.nns > MAX_NS || want != (uint32_t)nfds || r.seccomp > 4096 || r.ngroups > 256 ||
	    r.nargs == 0 || r.nargs > 65536 || r.nenv > 65536 || r.zygote > 1 || (r.zygote && r.tty) ||
	    (size_t)(end - p) < (size_t)r.seccomp * 8 + (size_t)r.ngroups * 4 + r.strings_len) {
		write_line(fds[3], "error bad request to the fork server\n");
		close_all(fds, nfds);
		return 0;
	}
	prog = (const struct sock_filter *)p;
	p += (size_t)r.seccomp * 8;
	groups = (const uint32_t *)p;
	p += (size_t)r.ngroups * 4;
	args = calloc((size_t)r.nargs + 1, sizeof *args);
	env = calloc((size_t)r.nenv + 1, sizeof *env);
	dir = p;
	if (args == NULL || env == NULL || memchr(p, '\0', (size_t)(end - p)) == NULL) {
		write_line(fds[3], "error bad request to the fork server\n");
		goto out;
	}
	p += strlen(p) + 1;
	if (split(&p, end, r.nargs, args) < 0 || split(&p, end, r.nenv, env) < 0) {
		write_line(fds[3], "error bad request to the fork server\n");
		goto out;
	}

	/* Where the child is born: the container's PID namespace, or ours. */
	{
		int pidns = own_pidns;
		for (i = 0; i < r.nns && !r.zygote; i++) /* a zygote is born in ours */
			if (r.ns_flags[i] == CLONE_NEWPID)
				pidns = fds[5 + i];
		if (setns(pidns, CLONE_NEWPID) < 0) {
			write_line(fds[3], "error setns pid: %s (has the container exited?)\n", errstr(errno));
			goto out;
		}
	}
	if (nchildren == cap_children) {
		size_t cap = cap_children ? 2 * cap_children : 16;
		struct child *grown = realloc(children, cap * sizeof *grown);
		if (grown == NULL) {
			write_line(fds[3], "error fork server: out of memory\n");
			goto out;
		}
		children = grown;
		cap_children = cap;
	}
	pid = fork();
	if (pid < 0) {
		if (errno == ENOMEM)
			write_line(fds[3], "error fork into the container's PID namespace: its init has exited\n");
		else
			write_line(fds[3], "error fork: %s\n", errstr(errno));
		goto out;
	}
	if (pid == 0 && r.zygote)
		run_zygote(&r, prog, groups, dir, args, env, fds, server_pid);
	if (pid == 0)
		run_child(&r, prog, groups, dir, args, env, fds);
	write_line(fds[4], "pid %ld\n", (long)pid);
	children[nchildren].pid = pid;
	children[nchildren].wait_fd = fds[4];
	children[nchildren].out_fd = -1;
	nchildren++;
	fds[4] = -1; /* kept until the child's end */
out:
	free(args);
	free(env);
	for (i = 0; i < (uint32_t)nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 0;
}

/* reap collects every child of the server that has ended. */
static void reap(void)
{
	reap_table(children, &nchildren);
}

__attribute__((noreturn)) void berth_nsenter_serve(void)
{
	sigset_t mask;
	struct pollfd pfd[2];
	char *buf = malloc(MAX_REQUEST);
	int sfd, listening = 1, devnull;

	if (buf == NULL)
		_exit(1);
	/* As nsenter.c: nothing inherited crosses into a container, and no
	 * process of a container may ptrace us or our children. */
	if (fcntl(SERVER_FD, F_SETFD, FD_CLOEXEC) < 0)
		_exit(1);
	if (syscall(SYS_close_range, SERVER_FD + 1, ~0U, 0) < 0) {
		int fd;
		for (fd = SERVER_FD + 1; fd < 1024; fd++)
			close(fd);
	}
	/* 0, 1, 2 on /dev/null: the descriptors received land above them. */
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		if (devnull > 2)
			close(devnull);
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_NAME, (unsigned long)"berth-nsenter-s", 0, 0, 0);
	own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (own_pidns < 0)
		_exit(1);
	/* A daemon that stopped reading a wait pipe must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		_exit(1);

	/* Until the daemon closes its end, and then until the last child
	 * has ended: its exec may still be waited for. */
	while (listening || nchildren > 0) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = listening ? SERVER_FD : -1;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0) {
			}
			reap();
		}
		if (listening && pfd[1].revents) {
			if (serve_one(buf) < 0)
				listening = 0;
		}
	}
	_exit(0);
}
