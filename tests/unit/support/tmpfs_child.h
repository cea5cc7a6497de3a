/*
 * tmpfs_child.h - running a test body against a small, full-able disk: a
 * tmpfs mounted in a private mount namespace of a forked child, so the
 * mount goes away with the child and nothing outside sees it.
 */
#ifndef TESTS_UNIT_SUPPORT_TMPFS_CHILD_H
#define TESTS_UNIT_SUPPORT_TMPFS_CHILD_H

/*
 * Forks; the child restores the default SIGBUS/SIGSEGV handling (a fault
 * must kill it visibly, not reach cmocka's handler), mounts a tmpfs of mib
 * MiB on a fresh directory and exits with body(mnt, ud). Returns 0 when the
 * child exited 0, 1 when the test cannot run here (not root, or no tmpfs in
 * a private namespace: the caller cleans up and calls skip()); fails the
 * cmocka test, naming `what`, when the child died of a signal or exited
 * non-zero.
 */
int tmpfs_child_run(const char *what, unsigned mib, int (*body)(const char *mnt, void *ud),
                    void *ud);

#endif
