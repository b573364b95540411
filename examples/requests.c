/*
 * requests.c - a request loop with one sub heap per request.
 *
 * Everything a request allocates - its parsed form, a dict of its query
 * parameters, scratch strings, a response body that may grow past the
 * small-allocation limit, the exception of a request that fails - is freed
 * when its block ends, so the memory of the process stays flat however many
 * requests it serves.
 *
 * It serves 100,000 made-up requests, one in ten of them malformed so that
 * it fails with an exception thrown from deep inside, and every 10,000
 * prints the statistics of the root heap and the resident set of the process
 * (from /proc/self/statm).  Exit status 1 if the root heap holds anything
 * between requests or the resident set grows by more than 1 MiB after the
 * first 10,000 requests.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <txc.h>

#define REQUESTS 100000
#define REPORT_EVERY 10000

define_exception(bad_request, exception_arg);

typedef const char* str;

struct request {
    str method, path;
    dict(str)* query;
};

/* A stand-in for a connection, closed by its destructor. */
struct connection {
    unsigned id;
};
static unsigned long opened, closed;

static void close_connection(void* p)
{
    (void)p;
    closed++;
}

/* The i-th request: every 10th is malformed, every 1000th asks for a
 * large response. */
static str make_request(unsigned i)
{
    if (i % 10 == 9)
        return i % 20 == 9 ? txc_sprintf("GET /items/%ux", i) : txc_sprintf("DELETE /items/%u", i);
    return txc_sprintf("GET /items/%u?limit=%u&sort=asc", i, i % 1000 == 0 ? 5000 : i % 50);
}

static unsigned parse_number(str s)
{
    char* end;
    unsigned long n = strtoul(s, &end, 10);
    if (end == s || *end || n > 100000)
        throw(bad_request, "bad number \"%s\"", s);
    return (unsigned)n;
}

static struct request* parse_request(str line)
{
    struct request* r = new(struct request);
    char* method = txc_strdup(line);
    char* path = strchr(method, ' ');
    if (!path)
        throw(bad_request, "no path in \"%s\"", line);
    *path++ = '\0';
    r->method = method;
    r->path = path;
    r->query = new_dict(str);
    char* q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    while (q && *q) {
        char* next = strchr(q, '&');
        if (next)
            *next++ = '\0';
        char* eq = strchr(q, '=');
        if (!eq)
            throw(bad_request, "no value for \"%s\"", q);
        *eq = '\0';
        dict_replace(r->query, str, q, eq + 1);
        q = next;
    }
    return r;
}

/* The response to line; throws bad_request. */
static str handle(str line)
{
    struct request* r = parse_request(line);
    if (strcmp(r->method, "GET") != 0)
        throw(bad_request, "method %s not allowed", r->method);
    if (strncmp(r->path, "/items/", 7) != 0)
        throw(bad_request, "no such path %s", r->path);
    unsigned id = parse_number(r->path + 7);
    str* limit = dict_read(r->query, str, "limit");
    unsigned n = limit ? parse_number(*limit) : 10;
    size_t cap = 64, len = 0;
    char* body = txc_alloc(cap);
    for (unsigned k = 0; k < n; k++) {
        char line_buf[32];
        int w = snprintf(line_buf, sizeof line_buf, "item %u.%u\n", id, k);
        if (len + (size_t)w + 1 > cap)
            body = txc_realloc(body, cap *= 2); /* past 16 KiB: a block of its own */
        memcpy(body + len, line_buf, (size_t)w + 1);
        len += (size_t)w;
    }
    return txc_sprintf("200 OK, %zu bytes", len);
}

static long resident_kib(void)
{
    long pages = 0;
    FILE* f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%*s %ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Serves request i on a heap of its own, which ends with it; *used gets
 * what the request had allocated at its end.  True if it succeeded. */
static bool serve(unsigned i, txc_heap_stats_t* used)
{
    bool volatile ok = false; /* set in try, read after it: volatile */
    sub_heap {
        struct connection* c = new(struct connection);
        c->id = i;
        opened++;
        txc_set_destructor(c, close_connection);
        try {
            handle(make_request(i));
            ok = true;
        } catch (bad_request, e) {
            /* e lives on this sub heap, and goes with it */
        }
        txc_heap_stats(txc_heap_current(), used);
    }
    return ok;
}

int main(void)
{
    unsigned long ok = 0, failed = 0;
    size_t most_allocs = 0, most_bytes = 0;
    long rss_base = 0, rss_now = 0;
    int leaked = 0;
    txc_heap_t* root = txc_heap_current();

    printf("%8s %7s %7s %12s %7s %13s\n", "requests", "ok", "failed", "root allocs", "bytes",
           "resident KiB");
    for (unsigned i = 0; i <= REQUESTS; i++) {
        if (i > 0) {
            txc_heap_stats_t used;
            if (serve(i, &used))
                ok++;
            else
                failed++;
            if (used.total_bytes > most_bytes)
                most_bytes = used.total_bytes, most_allocs = used.total_allocs;
        }
        txc_heap_stats_t st;
        txc_heap_stats(root, &st);
        leaked |= st.total_allocs != 0;
        if (i % REPORT_EVERY == 0) {
            rss_now = resident_kib();
            if (i == REPORT_EVERY)
                rss_base = rss_now;
            printf("%8u %7lu %7lu %12zu %7zu %13ld\n", i, ok, failed, st.total_allocs, st.total_bytes,
                   rss_now);
        }
    }
    printf("largest request heap: %zu allocations, %zu bytes\n", most_allocs, most_bytes);
    printf("connections: %lu opened, %lu closed\n", opened, closed);
    long growth = rss_now - rss_base;
    printf("resident set after request %d: %+ld KiB (%s)\n", REPORT_EVERY, growth,
           growth <= 1024 ? "flat" : "growing");
    return leaked || growth > 1024 || closed != opened ? 1 : 0;
}
