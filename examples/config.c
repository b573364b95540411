/*
 * config.c - a line-oriented config parser: "key = value" lines, [sections],
 * "quoted strings" with \" \\ \n \t escapes, and # or ; comments.
 *
 * The first error is thrown as a config_error exception whose payload (a
 * struct config_pos, given to throw_data) says where: line and column.  The
 * parse runs in a transaction, so on an error nothing it allocated is left,
 * the open file included; on success the config lands on the caller's heap.
 *
 *   config            parses sample.conf and bad.conf, found beside this
 *                     source file (bad.conf has a mistake: its error is
 *                     expected); exit status 0 if both turn out that way
 *   config FILE...    parses each FILE; exit status 1 if any fails
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <txc.h>

define_exception(config_error, exception_io);

/* The payload of a config_error. */
struct config_pos {
    int line, column;
};

struct setting {
    const char *section, *key, *value;
    struct setting* next;
};

struct config {
    struct setting *first, *last;
    int count;
};

struct cursor {
    const char* p;          /* the next character */
    const char* line_start;
    int line;
};

/* Throws config_error at `at` on the cursor's line. */
static void fail(const struct cursor* c, const char* at, const char* fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
static void fail(const struct cursor* c, const char* at, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char* message = txc_vsprintf(fmt, ap);
    va_end(ap);
    struct config_pos* pos = new(struct config_pos);
    pos->line = c->line;
    pos->column = (int)(at - c->line_start) + 1;
    throw_data(config_error, pos, "%s", message); /* pos moves onto the exception */
}

static bool is_name_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '.';
}

static void skip_blanks(struct cursor* c)
{
    while (*c->p == ' ' || *c->p == '\t')
        c->p++;
}

static bool at_line_end(const struct cursor* c)
{
    return *c->p == '\0' || *c->p == '\n' || *c->p == '#' || *c->p == ';';
}

static char* parse_name(struct cursor* c, const char* what)
{
    const char* start = c->p;
    while (is_name_char(*c->p))
        c->p++;
    if (c->p == start)
        fail(c, start, "expected %s", what);
    return txc_strndup(start, (size_t)(c->p - start));
}

static char* parse_quoted(struct cursor* c)
{
    const char* open = c->p++;
    char* out = txc_alloc(strcspn(c->p, "\n") + 1); /* never longer than the line */
    size_t n = 0;
    for (;;) {
        char ch = *c->p;
        if (ch == '\0' || ch == '\n')
            fail(c, open, "unterminated string");
        c->p++;
        if (ch == '"')
            break;
        if (ch == '\\') {
            switch (*c->p) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            default: fail(c, c->p - 1, "unknown escape sequence");
            }
            c->p++;
        }
        out[n++] = ch;
    }
    out[n] = '\0';
    return out;
}

static char* parse_bare(struct cursor* c)
{
    const char* start = c->p;
    while (!at_line_end(c))
        c->p++;
    const char* end = c->p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end == start)
        fail(c, start, "expected a value");
    return txc_strndup(start, (size_t)(end - start));
}

static const struct setting* find(const struct config* cfg, const char* section, const char* key)
{
    for (const struct setting* s = cfg->first; s; s = s->next)
        if (strcmp(s->section, section) == 0 && strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

/* One line, up to its '\n' or the end of the text. */
static void parse_line(struct config* cfg, struct cursor* c, const char** section)
{
    skip_blanks(c);
    if (*c->p == '[') {
        c->p++;
        skip_blanks(c);
        char* name = parse_name(c, "a section name");
        skip_blanks(c);
        if (*c->p != ']')
            fail(c, c->p, "expected ']' after the section name");
        c->p++;
        *section = name;
    } else if (!at_line_end(c)) {
        const char* key_at = c->p;
        char* key = parse_name(c, "a key, a [section] or a comment");
        skip_blanks(c);
        if (*c->p != '=')
            fail(c, c->p, "expected '=' after \"%s\"", key);
        c->p++;
        skip_blanks(c);
        char* value = *c->p == '"' ? parse_quoted(c) : parse_bare(c);
        if (find(cfg, *section, key))
            fail(c, key_at, "\"%s\" is set twice", key);
        struct setting* s = new(struct setting);
        *s = (struct setting){*section, key, value, NULL};
        if (cfg->last)
            cfg->last->next = s;
        else
            cfg->first = s;
        cfg->last = s;
        cfg->count++;
    }
    skip_blanks(c);
    if (*c->p == '#' || *c->p == ';')
        c->p += strcspn(c->p, "\n");
    if (*c->p != '\0' && *c->p != '\n')
        fail(c, c->p, "unexpected '%c'", *c->p);
}

static struct config* config_parse(const char* text)
{
    struct config* cfg = new(struct config);
    struct cursor c = {text, text, 1};
    const char* section = "";
    while (*c.p) {
        parse_line(cfg, &c, &section);
        if (*c.p == '\n') {
            c.p++;
            c.line++;
            c.line_start = c.p;
        }
    }
    return cfg;
}

static void close_file(void* p)
{
    FILE* f = *(FILE**)p;
    if (f)
        fclose(f);
}

/* The whole file as a string on the current heap.  Throws exception_io. */
static char* read_file(const char* path)
{
    FILE** f = new(FILE*);
    txc_set_destructor(f, close_file); /* closed when f's heap goes, however it goes */
    if (!(*f = fopen(path, "r")))
        throw_errno(exception_io, "cannot open %s", path);
    size_t cap = 1024, len = 0, n;
    char* text = txc_alloc(cap);
    while ((n = fread(text + len, 1, cap - 1 - len, *f)) > 0)
        if ((len += n) == cap - 1)
            text = txc_realloc(text, cap *= 2);
    if (ferror(*f))
        throw_errno(exception_io, "cannot read %s", path);
    text[len] = '\0';
    return text;
}

/* The config in path, on the current heap.  Throws config_error or
 * exception_io, and then leaves nothing behind. */
static struct config* config_load(const char* path)
{
    struct config* cfg = NULL;
    switch_txn(h) {          /* what is allocated on h is kept only on success */
        sub_heap {           /* scratch: the file and its text */
            const char* text = read_file(path);
            switch_heap(h)   /* the config itself goes to h */
                cfg = config_parse(text);
        }
    }
    return cfg;
}

static void print_quoted(const char* s)
{
    putchar('"');
    for (; *s; s++) {
        switch (*s) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default: putchar(*s);
        }
    }
    putchar('"');
}

/* Prints the settings in path, or its first error.  True if it parsed. */
static bool show(const char* path)
{
    bool volatile ok = false; /* set in try, read after it: volatile */
    sub_heap {                /* the config, or a caught exception, lives here */
        try {
            struct config* cfg = config_load(path);
            printf("%s: %d settings\n", path, cfg->count);
            for (const struct setting* s = cfg->first; s; s = s->next) {
                printf("  %s%s%s = ", s->section, *s->section ? "." : "", s->key);
                print_quoted(s->value);
                putchar('\n');
            }
            ok = true;
        } catch (config_error, e) {
            const struct config_pos* at = e->data;
            printf("%s:%d:%d: %s: %s\n", path, at->line, at->column, e->type->name, e->message);
        } catch (exception_io, e) {
            printf("%s: %s\n", path, e->message);
        }
    }
    return ok;
}

/* name in the directory of this source file. */
static const char* beside_source(const char* name)
{
    const char* slash = strrchr(__FILE__, '/');
    return slash ? txc_sprintf("%.*s/%s", (int)(slash - __FILE__), __FILE__, name) : name;
}

int main(int argc, char** argv)
{
    int failed = 0;
    sub_heap {
        if (argc > 1) {
            for (int i = 1; i < argc; i++)
                failed += !show(argv[i]);
        } else {
            failed += !show(beside_source("sample.conf"));
            failed += show(beside_source("bad.conf")); /* must fail */
        }
    }
    txc_heap_stats_t st;
    txc_heap_stats(txc_heap_current(), &st);
    printf("left on the root heap: %zu allocations, %zu bytes\n", st.total_allocs, st.total_bytes);
    return failed || st.total_allocs ? 1 : 0;
}
