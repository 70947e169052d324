/*
 * peakrss RESULT PROGRAM ARGS...: run PROGRAM, wait for it, write
 * "<ru_maxrss KiB> <wall ns>" to the file RESULT, exit with its status.
 *
 * The bench cannot take ru_maxrss from its own wait4 of the runtime: Go
 * starts children with vfork semantics (CLONE_VM), so the child execs from
 * the bench's own mm, and execve records that mm's high-water RSS in the
 * child's maxrss (fs/exec.c, exec_mmap: setmax_mm_hiwater_rss). Every
 * runtime then "peaks" at least at the bench's RSS, ~10 MiB. This small
 * static C program forks (a copy of its own few hundred KiB) and so
 * measures the runtime alone. The wall time is fork to reap.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: peakrss RESULT PROGRAM [ARGS...]\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("peakrss: fork");
		return 2;
	}
	if (pid == 0) {
		/* The bench kills us on a timeout; take the runtime along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[2], argv + 2);
		perror("peakrss: exec");
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0) {
		perror("peakrss: wait4");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	FILE *f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%ld %lld\n", ru.ru_maxrss,
			  (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)) < 0 ||
	    fclose(f) != 0) {
		perror("peakrss: write result");
		return 2;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
