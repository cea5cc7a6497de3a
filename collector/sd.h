/*
 * sd.h - service discovery: static_configs, file_sd_configs, dns_sd_configs.
 *
 * Spec: https://prometheus.io/docs/prometheus/2.42/configuration/configuration/
 * (static_config, file_sd_config, dns_sd_config); Prometheus 2.42
 * discovery/file and discovery/dns.
 *
 * A `struct coll_sd` holds the providers of one scrape config and the
 * target groups they last produced (coll_target_group, target.h). It is
 * driven by coll_sd_poll from one thread: file_sd rereads its files when
 * inotify reports a change in a watched directory or its refresh_interval
 * passes; dns_sd resolves its names every refresh_interval (blocking, with
 * the resolver's timeouts: call it from a discovery thread, not the scrape
 * loop). A file or name that fails keeps its previous groups, as Prometheus
 * does; a file that disappears, or a name that does not exist, yields none.
 */
#ifndef COLLECTOR_SD_H
#define COLLECTOR_SD_H

#include <stddef.h>
#include <stdint.h>

#include "collector/config.h"
#include "collector/target.h"
#include "common/err.h"

struct coll_sd;

/* Discovered label names (Prometheus's). */
#define COLL_SD_META_FILEPATH     "__meta_filepath"
#define COLL_SD_META_DNS_NAME     "__meta_dns_name"
#define COLL_SD_META_DNS_SRV_TGT  "__meta_dns_srv_record_target"
#define COLL_SD_META_DNS_SRV_PORT "__meta_dns_srv_record_port"

/*
 * Creates the providers for the given configs (borrowed: they must outlive
 * the sd, as the config does). Nothing is read until the first poll.
 * OUT: *out, freed with coll_sd_free.
 */
int coll_sd_new(const struct coll_static_config *st, size_t nst,
                const struct coll_file_sd_config *files, size_t nfiles,
                const struct coll_dns_sd_config *dns, size_t ndns, struct coll_sd **out,
                struct pl_err *err);
void coll_sd_free(struct coll_sd *sd);

/*
 * Does the discovery work due at now_ms (the first call does all of it).
 * Returns 1 when the groups changed since the previous poll, else 0.
 * Failures are logged (component "discovery") and counted, never fatal.
 */
int coll_sd_poll(struct coll_sd *sd, int64_t now_ms);

/* When the next poll has timed work to do (ms, same clock as now_ms). */
int64_t coll_sd_next_due(const struct coll_sd *sd);

/* File descriptors that become readable when a poll has work (inotify). */
size_t coll_sd_fds(const struct coll_sd *sd, int *fds, size_t max);

/* Calls fn for every current group (borrowed for the call). */
void coll_sd_foreach(const struct coll_sd *sd,
                     void (*fn)(const struct coll_target_group *g, void *ud), void *ud);

/* Number of failed file reads and DNS lookups so far (for self-metrics and tests). */
uint64_t coll_sd_failures(const struct coll_sd *sd);

/*
 * Parses a file_sd file's contents (JSON when `path` ends in .json, YAML
 * otherwise) into groups with sources "PATH:INDEX" and __meta_filepath.
 * OUT: *out, *nout (free with coll_target_groups_free).
 */
int coll_file_sd_parse(const char *path, const char *text, size_t len,
                       struct coll_target_group **out, size_t *nout, struct pl_err *err);

/*
 * Parses a DNS answer (RFC 1035 message) for `name` into one group (source
 * `name`), as Prometheus's dns discovery: SRV gives TARGET:PORT (target without
 * its final dot) and the __meta_dns_srv_record_* labels; A and AAAA give
 * IP:port. Other records (CNAME) are skipped. OUT: *g (coll_target_group_fini).
 */
int coll_dns_sd_parse(const unsigned char *msg, size_t len, const char *name,
                      enum coll_dns_type type, int port, struct coll_target_group *g,
                      struct pl_err *err);

#endif
