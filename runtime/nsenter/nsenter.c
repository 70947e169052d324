// Joins user and mount namespaces before the Go runtime starts.
//
// setns(2): "A multithreaded process may not change user namespace with
// setns()", and joining a mount namespace fails with EINVAL when the
// caller shares its fs_struct (CLONE_FS), which every Go thread does.
// A C constructor runs in the new process before the Go runtime creates
// its threads, so it is the one place where a Go binary can do both.
//
// Only gocker's own child processes set _GOCKER_NSENTER; every other start
// of the binary returns at the first getenv.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static void nsenter_fail(const char *what, const char *path, int err)
{
	char msg[1024];
	const char *fdstr = getenv("_GOCKER_SYNCFD");
	int n = snprintf(msg, sizeof(msg),
			 "{\"type\":\"error\",\"msg\":\"nsenter: %s %s: %s\"}",
			 what, path, strerror(err));
	if (fdstr && n > 0)
		send(atoi(fdstr), msg, (size_t)n, 0);
	else
		fprintf(stderr, "%s\n", msg);
	_exit(1);
}

static int ns_flag(const char *type)
{
	if (!strcmp(type, "user")) return CLONE_NEWUSER;
	if (!strcmp(type, "mnt")) return CLONE_NEWNS;
	if (!strcmp(type, "time")) return CLONE_NEWTIME; // EUSERS from a threaded process
	// The rest are joined here only by an unprivileged exec, which must
	// join the user namespace first to have CAP_SYS_ADMIN over them
	// (setns(2)); root's exec joins them on the parent's spawning thread.
	if (!strcmp(type, "pid")) return CLONE_NEWPID;
	if (!strcmp(type, "net")) return CLONE_NEWNET;
	if (!strcmp(type, "ipc")) return CLONE_NEWIPC;
	if (!strcmp(type, "uts")) return CLONE_NEWUTS;
	if (!strcmp(type, "cgroup")) return CLONE_NEWCGROUP;
	return -1;
}

static const char *namespace_name(int flag)
{
	switch (flag) {
	case CLONE_NEWUSER: return "user namespace";
	case CLONE_NEWNS: return "mount namespace";
	case CLONE_NEWTIME: return "time namespace";
	case CLONE_NEWPID: return "pid namespace";
	case CLONE_NEWNET: return "network namespace";
	case CLONE_NEWIPC: return "ipc namespace";
	case CLONE_NEWUTS: return "uts namespace";
	case CLONE_NEWCGROUP: return "cgroup namespace";
	}
	return "namespace";
}

static pid_t reaped_child;

static void forward_signal(int sig)
{
	if (reaped_child > 0)
		kill(reaped_child, sig);
}

// fork_into_joined makes the process that lives in the joined pid
// namespace: setns(CLONE_NEWPID) only applies to children (pid_namespaces(7)).
// The child goes on to become the exec'd process. We stay as its reaper,
// still single-threaded C: we tell the parent the child's pid, forward
// every signal to it, and exit the way it exits, so the parent's wait and
// kill of "its" child work unchanged.
static void fork_into_joined(void)
{
	const char *fdstr = getenv("_GOCKER_SYNCFD");
	pid_t c = fork();
	if (c < 0)
		nsenter_fail("fork", "into the joined pid namespace", errno);
	if (c == 0)
		return;
	reaped_child = c;
	if (fdstr) {
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "{\"type\":\"pid\",\"msg\":\"%d\"}", (int)c);
		send(atoi(fdstr), msg, (size_t)n, 0);
		// The parent learns of the child's execve from EOF on this socket.
		close(atoi(fdstr));
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD)
			sigaction(sig, &sa, NULL);
	int st;
	while (waitpid(c, &st, 0) < 0)
		if (errno != EINTR)
			_exit(255);
	if (WIFSIGNALED(st)) {
		signal(WTERMSIG(st), SIG_DFL);
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		raise(WTERMSIG(st));
	}
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 255);
}

// glibc calls init_array functions with (argc, argv, envp), static or not.
__attribute__((constructor)) static void gocker_nsenter(int argc, char **argv, char **envp)
{
	(void)envp;
	// The container's init ("gocker init") is non-dumpable from its first
	// instruction of C, before the Go runtime runs at all: nothing in the
	// container may ptrace it or open its /proc/PID/{exe,mem,fd}
	// (CVE-2016-9962, CVE-2019-5736). initproc sets it again in Go.
	if (argc > 1 && argv && argv[1] && strcmp(argv[1], "init") == 0)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	const char *spec = getenv("_GOCKER_NSENTER");
	const char *unshare_str = getenv("_GOCKER_UNSHARE");
	if (!spec && !unshare_str)
		return;
	if (spec) {
		// "user:/proc/1/ns/user,mnt:/proc/1/ns/mnt", in join order. All
		// files are opened first: once the mount namespace is joined,
		// /proc/<host pid> no longer names the container's init.
		char *list = strdup(spec), *save = NULL;
		int fds[16], flags[16], n = 0;
		for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
			char *colon = strchr(item, ':');
			if (!colon || n == 16)
				nsenter_fail("bad entry", item, EINVAL);
			*colon = '\0';
			const char *path = colon + 1;
			flags[n] = ns_flag(item);
			if (flags[n] < 0)
				nsenter_fail("unknown namespace", item, EINVAL);
			fds[n] = open(path, O_RDONLY | O_CLOEXEC);
			if (fds[n] < 0)
				nsenter_fail("open", path, errno);
			n++;
		}
		for (int i = 0; i < n; i++) {
			if (setns(fds[i], flags[i]) < 0)
				nsenter_fail("setns", namespace_name(flags[i]), errno);
			close(fds[i]);
			// Our host root uid may be unmapped in the joined namespace;
			// become its root so file ownership and execve keep working
			// (user_namespaces(7)). A namespace without 0 mapped keeps ours.
			if (flags[i] == CLONE_NEWUSER) {
				if (setresgid(0, 0, 0) == 0)
					setresuid(0, 0, 0);
			}
		}
		free(list);
		unsetenv("_GOCKER_NSENTER");
		if (getenv("_GOCKER_NSENTER_FORK")) {
			unsetenv("_GOCKER_NSENTER_FORK");
			fork_into_joined();
		}
	}
	if (unshare_str) {
		// New namespaces that must be owned by a user namespace joined above.
		int flags = (int)strtol(unshare_str, NULL, 16);
		if (flags && unshare(flags) < 0)
			nsenter_fail("unshare", unshare_str, errno);
		unsetenv("_GOCKER_UNSHARE");
	}
}
