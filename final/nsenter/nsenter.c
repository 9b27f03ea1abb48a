//go:build cgo

/*
 * nsenter.c: the part of `berth exec` that runs before the Go runtime
 * starts, while the process still has a single thread.
 *
 * Why C: setns(2) refuses to move a multi-threaded process into another
 * mount namespace or user namespace (EINVAL), and a Go program has
 * several threads before the first line of main runs. An ELF constructor
 * runs earlier, when the dynamic loader initialises the program, before
 * the Go runtime has started a thread. This is runc's nsexec trick; see
 * doc.go for the alternatives and why this one.
 *
 * How the code gets control: berth_nsenter_early runs as a constructor
 * (see nsenter_cgo.go) in every process of a binary that links package
 * nsenter, and returns at once unless argv[0] is "berth-nsenter". Command
 * (nsenter.go) starts such a process:
 *
 *   argv: berth-nsenter PID NAMESPACES [CGROUP_PROCS...]
 *     PID           host PID of a process in the container (its init)
 *     NAMESPACES    the namespaces to enter, in order, as name:inode
 *                   pairs ("user:4026532201,mnt:4026532199"), "-" if none
 *     CGROUP_PROCS  host paths of the cgroup.procs files to join
 *   fd 3: the write end of the status pipe (STATUS_FD)
 *
 * What it does (the diagram is in doc.go):
 *
 *   1. opens every file it needs while the host's /proc and /sys/fs/cgroup
 *      are still what it sees: the cgroup.procs files (placed at fds 4,
 *      5, ... for the Go part) and /proc/PID/ns/<name>, checking each
 *      namespace's inode against the one Command saw, so that a PID reused
 *      by another process is not entered by mistake;
 *   2. joins the container's PID namespace, which only affects the
 *      children it forks from now on, and forks;
 *   3. the child enters the user namespace first (if any), then the
 *      others, and returns into the dynamic loader and on into the Go
 *      runtime, which starts inside the container (inside.go);
 *   4. the parent stays outside, in the host's namespaces, as a waiter:
 *      it writes the child's host PID on the status pipe, relays every
 *      signal it gets to the child, and exits with the child's status.
 *      Started as "berth-nsenter-detached" (Options.Detach), it exits
 *      after the PID instead, leaving the child to the nearest
 *      subreaper.
 *
 * Errors go to the status pipe as one line, "error <message>"; Start
 * reports them.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSENTER_NAME "berth-nsenter" /* Name in nsenter.go */
#define SERVER_NAME "berth-nsenter-server" /* serverName in server.go */
#define DETACHED_NAME "berth-nsenter-detached" /* detachedName in nsenter.go */
#define STATUS_FD 3                  /* statusFD in nsenter.go */
#define FIRST_CGROUP_FD 4            /* firstCgroupFD in nsenter.go */
#define MAX_NS 16
#ifndef SYS_close_range
#define SYS_close_range 436 /* Linux 5.9; the same number on every architecture */
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2) /* Linux 5.11 */
#endif
#define MAX_CGROUPS 32

/* enteredName in nsenter.go: argv[0] as the Go runtime sees it in the
 * child, once it is inside. */
static char entered_name[] = "berth-nsenter:entered";

static const struct {
	const char *name;
	int flag;
} ns_types[] = {
	{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},    {"pid", CLONE_NEWPID},
	{"net", CLONE_NEWNET},   {"uts", CLONE_NEWUTS},   {"ipc", CLONE_NEWIPC},
	{"cgroup", CLONE_NEWCGROUP},
};

struct ns {
	const char *name;
	int flag;
	unsigned long long ino; /* the namespace's inode, as Command saw it */
	int fd;
};

/* berth_vfail writes "error MSG\n" to fd in one write of less than
 * PIPE_BUF bytes, so that it cannot interleave with another line on the
 * same pipe (the waiter's "pid" line here, the server's replies in
 * server.c), and ends the process. */
__attribute__((noreturn)) void berth_vfail(int fd, const char *fmt, va_list ap)
{
	char msg[1024];
	int n;

	memcpy(msg, "error ", 6);
	n = vsnprintf(msg + 6, sizeof msg - 7, fmt, ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof msg - 7)
		n = (int)sizeof msg - 7;
	n += 6;
	msg[n++] = '\n';
	if (write(fd, msg, (size_t)n) < 0) {
		/* nobody to tell */
	}
	_exit(1);
}

/* fail reports msg on the status pipe and ends the process. */
__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	berth_vfail(STATUS_FD, fmt, ap);
}

/* for_each_fd_from applies f to every open file descriptor >= first,
 * the slow way: for kernels older than close_range(2). */
static void for_each_fd_from(int first, void (*f)(int))
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d == NULL)
		fail("listing open files: /proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd >= first && fd != dirfd(d))
			f(fd);
	}
	closedir(d);
}

static void set_cloexec(int fd) { fcntl(fd, F_SETFD, FD_CLOEXEC); }
static void close_fd(int fd) { close(fd); }

/* cloexec_from makes every descriptor >= first close on exec. os/exec
 * passes the helper exactly the descriptors it was given, but a child
 * also inherits every descriptor its parent had without close-on-exec:
 * ones the parent itself inherited from whoever started it (a shell, go
 * test). In a container they would be holes to the host (runc's
 * CVE-2016-9962 was a leaked directory descriptor). */
static void cloexec_from(int first)
{
	if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	for_each_fd_from(first, set_cloexec);
}

/* close_from closes every descriptor >= first. */
static void close_from(int first)
{
	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0)
		return;
	for_each_fd_from(first, close_fd);
}

/* parse_namespaces reads "name:inode,name:inode" into ns. */
static int parse_namespaces(const char *arg, struct ns *ns)
{
	static char buf[1024];
	char *save = NULL, *tok;
	int n = 0;

	if (strcmp(arg, "-") == 0)
		return 0;
	/* strtok_r writes into its input: work on a copy, so that argv (and
	 * what ps shows of it) stays intact. */
	if (strlen(arg) >= sizeof buf)
		fail("namespace list too long: %s", arg);
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':'), *end;
		size_t i;

		if (colon == NULL || n == MAX_NS)
			fail("bad namespace list %s", arg);
		*colon = '\0';
		ns[n].name = NULL;
		for (i = 0; i < sizeof ns_types / sizeof ns_types[0]; i++) {
			if (strcmp(tok, ns_types[i].name) == 0) {
				ns[n].name = ns_types[i].name;
				ns[n].flag = ns_types[i].flag;
			}
		}
		if (ns[n].name == NULL)
			fail("unknown namespace type %s", tok);
		errno = 0;
		ns[n].ino = strtoull(colon + 1, &end, 10);
		if (errno != 0 || *end != '\0' || end == colon + 1)
			fail("bad inode number for namespace %s: %s", tok, colon + 1);
		ns[n].fd = -1;
		n++;
	}
	return n;
}

/* open_cgroups opens each cgroup.procs file and places it at fd
 * FIRST_CGROUP_FD + i, where the Go part finds it. The child writes to
 * them last, just before execve: see joinCgroups in inside.go. The kernel
 * checks the permission of a write to cgroup.procs against the
 * credentials and the cgroup namespace of whoever opened the file, so the
 * host's root, opening them here, can still move the child once it is an
 * unprivileged user in the container's namespaces. */
static void open_cgroups(char **paths, int n)
{
	int i;

	if (n > MAX_CGROUPS)
		fail("too many cgroups (%d)", n);
	for (i = 0; i < n; i++) {
		int want = FIRST_CGROUP_FD + i;
		int fd = open(paths[i], O_WRONLY | O_CLOEXEC);

		if (fd < 0)
			fail("open %s: %s", paths[i], strerror(errno));
		if (fd != want) {
			if (dup3(fd, want, O_CLOEXEC) < 0)
				fail("dup3 %s: %s", paths[i], strerror(errno));
			close(fd);
		}
	}
}

/* open_namespaces opens /proc/PID/ns/<name> for each namespace, before
 * any setns: once in the container's mount namespace, /proc is the
 * container's, where PID means something else or nothing. */
static void open_namespaces(const char *pid, struct ns *ns, int n)
{
	char path[64];
	struct stat st;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, ns[i].name);
		ns[i].fd = open(path, O_RDONLY | O_CLOEXEC);
		if (ns[i].fd < 0)
			fail("open %s: %s (has the container exited?)", path, strerror(errno));
		if (fstat(ns[i].fd, &st) < 0)
			fail("stat %s: %s", path, strerror(errno));
		if ((unsigned long long)st.st_ino != ns[i].ino)
			fail("%s is namespace %llu, not %llu: process %s is not the container's any more",
			     path, (unsigned long long)st.st_ino, ns[i].ino, pid);
	}
}

/* join makes the calling process a member of namespace ns. */
static void join(const struct ns *ns)
{
	if (setns(ns->fd, ns->flag) < 0)
		fail("setns %s: %s", ns->name, strerror(errno));
}

/* enter_rest is the child's part: every namespace but the PID namespace
 * (which it was born in), the user namespace first. Entering it first
 * gives the process every capability inside it, which the other
 * namespaces, owned by it, require; the host's root has them anyway,
 * but the order is the one that also works for a less privileged
 * caller. */
static void enter_rest(struct ns *ns, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (ns[i].flag == CLONE_NEWUSER)
			join(&ns[i]);
	for (i = 0; i < n; i++)
		if (ns[i].flag != CLONE_NEWUSER && ns[i].flag != CLONE_NEWPID)
			join(&ns[i]);
}

static void close_namespaces(struct ns *ns, int n)
{
	int i;

	for (i = 0; i < n; i++)
		close(ns[i].fd);
}

/* wait_for is the waiter: the parent that stays in the host's
 * namespaces. It is the child's parent, so it alone can collect the
 * child's exit status: a process in the container's PID namespace whose
 * parent exits is not re-parented to anything the caller can wait for. */
__attribute__((noreturn)) static void wait_for(pid_t child, const sigset_t *all, int detached)
{
	char line[32];
	int n, status;
	siginfo_t si;
	pid_t got;

	n = snprintf(line, sizeof line, "pid %d\n", (int)child);
	if (write(STATUS_FD, line, (size_t)n) < 0) {
		/* Start sees no pid and reports it */
	}
	/* Hold nothing that the command's readers wait on: Start waits for
	 * the status pipe to close, and the caller's stdout and stderr (a
	 * pipe, a pty) must end when the command's end, not when we do. */
	close_from(0);
	/* Options.Detach: the caller is a subreaper's child (an OCI
	 * runtime's exec under containerd's shim), which wants the command
	 * for its own child. Leaving makes it so: the kernel re-parents the
	 * command to the nearest subreaper ancestor. */
	if (detached)
		_exit(0);

	for (;;) {
		int sig = sigwaitinfo(all, &si);

		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			/* The child is not reaped before we see SIGCHLD, so its
			 * PID cannot belong to anyone else yet. */
			kill(child, sig);
			continue;
		}
		do
			got = waitpid(child, &status, WNOHANG);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			_exit(1);
		if (got == 0)
			continue; /* it stopped or continued: not over */
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		if (WIFSIGNALED(status))
			_exit(128 + WTERMSIG(status));
	}
}

void berth_nsenter_serve(void) __attribute__((noreturn)); /* server.c */

void berth_nsenter_early(int argc, char **argv)
{
	struct ns ns[MAX_NS];
	sigset_t all, old;
	int nns, ncgroups, i;
	pid_t child;
	int detached;

	if (argc >= 1 && argv != NULL && argv[0] != NULL && strcmp(argv[0], SERVER_NAME) == 0)
		berth_nsenter_serve(); /* server.c: never returns */
	if (argc < 3 || argv == NULL || argv[0] == NULL)
		return;
	detached = strcmp(argv[0], DETACHED_NAME) == 0;
	if (!detached && strcmp(argv[0], NSENTER_NAME) != 0)
		return;

	/* Nothing of this process may outlive an execve into the container:
	 * the status pipe closes on exec (that is how Start learns that the
	 * command runs), and so does every file opened below. */
	if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "%s: no status pipe on fd %d: not started by nsenter.Command\n",
			NSENTER_NAME, STATUS_FD);
		_exit(1);
	}
	cloexec_from(STATUS_FD + 1);
	/* Non-dumpable: a process in the container, even its root, cannot
	 * ptrace us or open /proc/<our pid>/exe, fd/ or mem (CVE-2019-5736;
	 * see doc.go). The child inherits the flag; execve of the command
	 * gives the command its own. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	/* The name in ps: "exe" or "memfd:..." would say nothing. */
	prctl(PR_SET_NAME, (unsigned long)NSENTER_NAME, 0, 0, 0);

	if (argv[1][0] == '\0' || strspn(argv[1], "0123456789") != strlen(argv[1]))
		fail("bad PID %s", argv[1]);
	nns = parse_namespaces(argv[2], ns);
	ncgroups = argc - 3;
	open_cgroups(argv + 3, ncgroups);
	open_namespaces(argv[1], ns, nns);

	/* setns(CLONE_NEWPID) does not move the caller, whose PID cannot
	 * change: it decides where the caller's next child is born. */
	for (i = 0; i < nns; i++)
		if (ns[i].flag == CLONE_NEWPID)
			join(&ns[i]);

	/* Block every signal before the fork, so that none sent to the
	 * waiter between fork and sigwaitinfo is lost: they stay pending
	 * until it takes them. SIGCHLD must not be ignored (an inherited
	 * SIG_IGN would make the kernel reap the child for us, status
	 * lost). */
	signal(SIGCHLD, SIG_DFL);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);

	child = fork();
	if (child < 0) {
		if (errno == ENOMEM)
			fail("fork into the container's PID namespace: %s (its init has exited)", strerror(ENOMEM));
		fail("fork: %s", strerror(errno));
	}
	if (child > 0)
		wait_for(child, &all, detached);

	/* The child: the caller's signal mask back, for the Go runtime and
	 * the command. */
	sigprocmask(SIG_SETMASK, &old, NULL);
	enter_rest(ns, nns);
	close_namespaces(ns, nns);
	/* Tell the Go part that it runs inside: os.Args is read from argv
	 * after the constructors have run. */
	argv[0] = entered_name;
}
