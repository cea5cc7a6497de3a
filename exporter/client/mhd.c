/*
 * mhd.c - serving a registry from a libmicrohttpd application
 * (https://www.gnu.org/software/libmicrohttpd/manual/): the scrape handler
 * and the instrumented MHD_queue_response wrapper.
 */
#include "exporter/client/client_int.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct MHD_Response *text_response(const char *msg)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(msg), (void *)(uintptr_t)msg, MHD_RESPMEM_MUST_COPY);
    if (resp)
        MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    return resp;
}

/* Renders and queues a scrape; *code gets the HTTP status sent. */
static int respond(struct exp_registry *r, struct MHD_Connection *c, unsigned *code)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    enum exp_format fmt = exp_format_negotiate(accept);
    char *body = NULL;
    size_t len = 0;
    int rc = exp_registry_render(r, fmt, &body, &len);
    if (rc) {
        char msg[160];
        snprintf(msg, sizeof(msg), "An error has occurred while serving metrics: %s\n",
                 exp_strerror(rc));
        struct MHD_Response *resp = text_response(msg);
        if (!resp)
            return MHD_NO;
        *code = 500;
        int ret = MHD_queue_response(c, 500, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    int gz = exp_accepts_gzip(enc);
    if (gz) {
        char *z;
        size_t zl;
        if (exp_gzip(body, len, &z, &zl) == 0) {
            free(body);
            body = z;
            len = zl;
        } else {
            gz = 0;
        }
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", exp_format_content_type(fmt));
    if (gz)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    *code = 200;
    int ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

int exp_mhd_respond(struct exp_registry *r, struct MHD_Connection *c)
{
    unsigned code = 0;
    return respond(r, c, &code);
}

int exp_http_metrics_queue(struct exp_http_metrics *m, struct MHD_Connection *c, const char *method,
                           unsigned code, struct MHD_Response *resp, double start)
{
    int ret = MHD_queue_response(c, code, resp);
    exp_http_metrics_observe(m, method, code, exp_now_monotonic() - start);
    return ret;
}
