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
#include <sys/socket.h>
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
	return -1;
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
		// "user:/proc/1/ns/user,mnt:/proc/1/ns/mnt", in join order.
		char *list = strdup(spec), *save = NULL;
		for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
			char *colon = strchr(item, ':');
			if (!colon)
				nsenter_fail("bad entry", item, EINVAL);
			*colon = '\0';
			const char *path = colon + 1;
			int flag = ns_flag(item);
			if (flag < 0)
				nsenter_fail("unknown namespace", item, EINVAL);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				nsenter_fail("open", path, errno);
			if (setns(fd, flag) < 0)
				nsenter_fail("setns", path, errno);
			close(fd);
			// Our host root uid may be unmapped in the joined namespace;
			// become its root so file ownership and execve keep working
			// (user_namespaces(7)). A namespace without 0 mapped keeps ours.
			if (flag == CLONE_NEWUSER) {
				if (setresgid(0, 0, 0) == 0)
					setresuid(0, 0, 0);
			}
		}
		free(list);
		unsetenv("_GOCKER_NSENTER");
	}
	if (unshare_str) {
		// New namespaces that must be owned by a user namespace joined above.
		int flags = (int)strtol(unshare_str, NULL, 16);
		if (flags && unshare(flags) < 0)
			nsenter_fail("unshare", unshare_str, errno);
		unsetenv("_GOCKER_UNSHARE");
	}
}
