/* bench/timed.c: the inner stopwatch of bench/kernel.sh and bench/tls.sh.
 *
 *     timed RESULT.json -- CMD [ARGS...]
 *
 * Runs CMD and writes {"wall_s": ..., "tree_cpu_s": ..., "tree_maxrss_kib": ..., "exit_code": ...}:
 * wall time from fork to exit (CLOCK_MONOTONIC), user+sys of CMD and every descendant it reaped
 * (wait4's rusage), the largest RSS among them. A C program rather than bench/measure.py so that
 * wrapping a workload adds ~1 ms (one fork and exec), not a Python start-up: the benchmarks run
 * the same `timed RESULT -- CMD` untraced, under `agentsight record` and under `strace -f`, so
 * what it costs is the same in every column. Exit status is CMD's (128 + signal if killed).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: timed RESULT.json -- CMD [ARGS...]\n");
		return 2;
	}
	double start = now();
	pid_t pid = fork();
	if (pid < 0) {
		perror("timed: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		perror("timed: exec");
		_exit(127);
	}
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0) {
		/* EINTR only: the one child is ours */
	}
	double wall = now() - start;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror("timed: result file");
		return 2;
	}
	fprintf(f, "{\"wall_s\": %.6f, \"tree_cpu_s\": %.6f, \"tree_maxrss_kib\": %ld, \"exit_code\": %d}\n", wall,
			ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
			ru.ru_maxrss, code);
	fclose(f);
	return code;
}
