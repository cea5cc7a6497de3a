/* tmpfs_child.c - see tmpfs_child.h. */
#define _GNU_SOURCE /* unshare(2) */
#include "tmpfs_child.h"

#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

/* The child's exit status when no tmpfs could be mounted (automake's "skipped"). */
#define TMPFS_CHILD_SKIP 77

int tmpfs_child_run(const char *what, unsigned mib, int (*body)(const char *mnt, void *ud),
                    void *ud)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skipped: mounting a tmpfs needs root\n");
        return 1;
    }
    const char *tmp = getenv("TMPDIR");
    char mnt[512];
    snprintf(mnt, sizeof(mnt), "%s/tsdb-tmpfs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(mnt));
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGBUS, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        char opts[32];
        snprintf(opts, sizeof(opts), "size=%um", mib);
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("tmpfs", mnt, "tmpfs", 0, opts) != 0) {
            fprintf(stderr, "%s: cannot mount a tmpfs: %s\n", what, strerror(errno));
            _exit(TMPFS_CHILD_SKIP);
        }
        int rc = body(mnt, ud);
        _exit(rc == TMPFS_CHILD_SKIP ? 1 : rc);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    rmdir(mnt);
    if (WIFEXITED(st) && WEXITSTATUS(st) == TMPFS_CHILD_SKIP) {
        fprintf(stderr, "skipped: no tmpfs in a private mount namespace here\n");
        return 1;
    }
    if (WIFSIGNALED(st))
        fail_msg("%s died of signal %d (%s)", what, WTERMSIG(st), strsignal(WTERMSIG(st)));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s failed (exit status %d)", what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
