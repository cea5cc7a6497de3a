/*
 * main.c - the `promlite` binary: dispatches to a subcommand.
 *
 * `promlite` alone, or with only flags, runs `server`, so that scripts and
 * service files written for `prometheus --config.file=...` work unchanged.
 */
#include "server/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: promlite [COMMAND] [FLAGS]\n\ncommands:\n");
    for (const struct srv_cmd *c = srv_cmds; c->name; c++)
        fprintf(f, "  %-18s %s\n", c->name, c->summary);
    fprintf(f, "\nWith no command (or only flags), promlite runs `server`.\n");
}

/* Number of leading argv words that spell `name` ("check metrics" is 2). */
static int match_words(const char *name, int argc, char **argv)
{
    int used = 0;
    const char *p = name;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        if (used >= argc || strlen(argv[used]) != len || strncmp(argv[used], p, len) != 0)
            return 0;
        used++;
        p = sp ? sp + 1 : p + len;
    }
    return used;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
            usage(stdout);
            return 0;
        }
        if (argc >= 2 && strcmp(argv[1], "--version") == 0)
            return srv_cmd_version(argc - 1, argv + 1);
        return srv_cmd_server(argc, argv);
    }
    if (strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    /* Longest match first, so "check metrics" wins over a plain "check". */
    const struct srv_cmd *best = NULL;
    int best_words = 0;
    for (const struct srv_cmd *c = srv_cmds; c->name; c++) {
        int w = match_words(c->name, argc - 1, argv + 1);
        if (w > best_words) {
            best = c;
            best_words = w;
        }
    }
    if (!best) {
        fprintf(stderr, "promlite: unknown command \"%s\"\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    /* The subcommand sees its last word as argv[0]. */
    return best->run(argc - best_words, argv + best_words);
}
