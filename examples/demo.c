/*
 * demo.c - txc in one page: a sub heap per piece of work, escape to keep a
 * result, and an exception that frees everything on its way out.
 */
#include <stdio.h>
#include <string.h>
#include <txc.h>

define_exception(parse_error, exception_io);

static void show(const char* when)
{
    txc_heap_stats_t s;
    txc_heap_stats(txc_heap_current(), &s);
    printf("%-34s live allocations %4zu, bytes %6zu (below too: %zu, %zu)\n", when, s.allocs,
           s.bytes, s.total_allocs, s.total_bytes);
}

static void on_free(void* p)
{
    printf("  destructor: freeing \"%s\"\n", (char*)p);
}

/* Builds a greeting on a sub heap and keeps only the result. */
static char* greet(const char* name)
{
    char* result = NULL;
    sub_heap {
        for (int i = 0; i < 1000; i++)
            txc_sprintf("scratch %d", i); /* working memory */
        result = txc_sprintf("hello, %s", name);
        escape(result); /* survives the sub heap */
    }
    return result;
}

/* Parses "key=value"; fails deep inside with everything allocated so far. */
static void parse(const char* line)
{
    sub_heap {
        char* copy = txc_strdup(line);
        txc_set_destructor(copy, on_free);
        char* eq = strchr(copy, '=');
        if (!eq)
            throw(parse_error, "no '=' in \"%s\"", line);
        printf("  parsed key %.*s\n", (int)(eq - copy), copy);
    }
}

static void parse_or_report(const char* line)
{
    try {
        parse(line);
    } catch (parse_error, e) {
        printf("  caught %s: %s\n", e->type->name, e->message);
        txc_free(e); /* or keep it: it lives on this heap */
    }
}

int main(void)
{
    show("start:");
    char* g = greet("world");
    printf("  %s\n", g);
    show("after greet (result escaped):");
    parse_or_report("colour=blue");
    parse_or_report("broken line");
    show("after the exception:");
    txc_free(g);
    show("end:");
    return 0;
}
