/*
 * test_dict.c - dict(T) (API.md section 4): string keys copied in, hashed
 * lookups, insertion order, the _n forms, keys that collide, the type
 * rules, ownership by the heap, misuse, memory exhaustion, hash flooding
 * and transactions.
 */
#include "conttest.h"

#include <stdalign.h>
#include <stdint.h>
#include <time.h>

/* Test hooks of src/dict.c (hidden from the shared library). */
void dict_test_set_hash(struct txc_dict* d, uint64_t (*fn)(const void* key, size_t len));
uint64_t dict_siphash24(const unsigned char key[16], const void* data, size_t len);

/* ---- helpers ---- */

/* The dict's keys and values, in iteration order, as "k=v k=v". */
static char* dump(dict(int)* d)
{
    char* s = txc_strdup("");
    dict_foreach(d, int, k, v) s = txc_sprintf("%s%s%s=%d", s, *s ? " " : "", k, v);
    return s;
}

static uint64_t hash_zero(const void* key, size_t len)
{
    (void)key, (void)len;
    return 0;
}

static uint64_t hash_ones(const void* key, size_t len) /* home: the last slot */
{
    (void)key, (void)len;
    return UINT64_MAX;
}

static uint64_t hash_first_byte(const void* key, size_t len) /* few, clustered values */
{
    return len ? (uint64_t)((const unsigned char*)key)[0] << 56 : 0;
}

/* ---- basic operations ---- */

static void new_dict_is_empty_on_the_current_heap(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        assert_int_equal(dict_count(d), 0);
        assert_null(dict_read(d, int, "a"));
        assert_false(dict_delete(d, int, "a"));
        assert_ptr_equal(txc_heap_of(d), txc_heap_current());
        assert_int_equal(stats_of(txc_heap_current()).allocs, 1);
        int n = 0;
        dict_foreach(d, int, k, v) n++;
        assert_int_equal(n, 0);
    }
}

static void insert_adds_and_refuses_a_present_key(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        assert_true(dict_insert(d, int, "one", 1));
        assert_true(dict_insert(d, int, "two", 2));
        assert_false(dict_insert(d, int, "one", 100)); /* nothing changes */
        assert_int_equal(dict_count(d), 2);
        assert_int_equal(*dict_read(d, int, "one"), 1);
        assert_string_equal(dump(d), "one=1 two=2");
    }
}

static void keys_are_copied_in(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        char key[64];
        strcpy(key, "short");
        dict_insert(d, int, key, 1);
        strcpy(key, "a key long enough to live out of line");
        dict_insert(d, int, key, 2);
        memset(key, 'x', sizeof key - 1);
        key[sizeof key - 1] = 0;
        assert_int_equal(*dict_read(d, int, "short"), 1);
        assert_int_equal(*dict_read(d, int, "a key long enough to live out of line"), 2);
        assert_string_equal(dump(d), "short=1 a key long enough to live out of line=2");
    }
}

static void read_gives_a_pointer_to_the_value_or_null(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        dict_insert(d, int, "a", 1);
        int* p = dict_read(d, int, "a");
        assert_non_null(p);
        assert_int_equal(*p, 1);
        *p = 5; /* writes through */
        assert_int_equal(*dict_read(d, int, "a"), 5);
        assert_null(dict_read(d, int, "b"));
        assert_null(dict_read(d, int, "aa"));
        assert_null(dict_read(d, int, ""));
    }
}

static void read_pointer_stays_valid_while_other_entries_change(void** state)
{
    (void)state;
    sub_heap {
        dict(long)* d = new_dict(long);
        dict_insert(d, long, "keep", 42);
        long* p = dict_read(d, long, "keep");
        char key[32];
        for (int i = 0; i < 100000; i++) { /* the index doubles many times */
            snprintf(key, sizeof key, "k%d", i);
            dict_insert(d, long, key, i);
        }
        for (int i = 0; i < 100000; i += 2) {
            snprintf(key, sizeof key, "k%d", i);
            dict_delete(d, long, key);
        }
        assert_ptr_equal(dict_read(d, long, "keep"), p);
        assert_int_equal(*p, 42);
        dict_replace(d, long, "keep", 43); /* replaced in place */
        assert_int_equal(*p, 43);
    }
}

static void replace_inserts_or_overwrites_keeping_the_position(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        assert_true(dict_replace(d, int, "a", 1)); /* added */
        dict_insert(d, int, "b", 2);
        dict_insert(d, int, "c", 3);
        assert_false(dict_replace(d, int, "a", 10)); /* overwritten */
        dict_replace(d, int, "b", 20);
        assert_true(dict_replace(d, int, "d", 4));
        assert_string_equal(dump(d), "a=10 b=20 c=3 d=4");
        assert_int_equal(dict_count(d), 4);
    }
}

static void delete_removes_and_reports_absence(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        dict_insert(d, int, "a", 1);
        dict_insert(d, int, "b", 2);
        assert_true(dict_delete(d, int, "a"));
        assert_false(dict_delete(d, int, "a"));
        assert_false(dict_delete(d, int, "zz"));
        assert_null(dict_read(d, int, "a"));
        assert_int_equal(dict_count(d), 1);
        assert_true(dict_delete(d, int, "b"));
        assert_int_equal(dict_count(d), 0);
        assert_string_equal(dump(d), "");
        assert_true(dict_insert(d, int, "a", 3)); /* usable again */
        assert_string_equal(dump(d), "a=3");
    }
}

static void order_after_deletes_and_reinserts(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        const char* names[] = {"a", "b", "c", "d", "e", "f"};
        for (int i = 0; i < 6; i++)
            dict_insert(d, int, names[i], i);
        dict_delete(d, int, "a"); /* the first */
        dict_delete(d, int, "f"); /* the last */
        dict_delete(d, int, "c"); /* a middle one */
        assert_string_equal(dump(d), "b=1 d=3 e=4");
        dict_insert(d, int, "c", 30); /* re-inserted: goes last */
        dict_insert(d, int, "a", 10);
        dict_insert(d, int, "g", 6);
        assert_string_equal(dump(d), "b=1 d=3 e=4 c=30 a=10 g=6");
        dict_replace(d, int, "d", 33); /* replace keeps the place */
        dict_delete(d, int, "b");
        dict_insert(d, int, "b", 11);
        assert_string_equal(dump(d), "d=33 e=4 c=30 a=10 g=6 b=11");
    }
}

/* ---- keys ---- */

static void the_empty_key_is_a_key(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        assert_true(dict_insert(d, int, "", 1));
        assert_false(dict_insert_n(d, int, "ignored", 0, 2));
        assert_int_equal(*dict_read(d, int, ""), 1);
        assert_int_equal(*dict_read_n(d, int, "xyz", 0), 1);
        dict_insert(d, int, "x", 2);
        assert_string_equal(dump(d), "=1 x=2");
        assert_true(dict_delete(d, int, ""));
        assert_null(dict_read(d, int, ""));
        assert_string_equal(dump(d), "x=2");
    }
}

static void keys_may_hold_nul_bytes(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        dict_insert_n(d, int, "a", 1, 1);
        dict_insert_n(d, int, "a\0", 2, 2);
        dict_insert_n(d, int, "a\0b", 3, 3);
        dict_insert_n(d, int, "\0", 1, 4);
        static const char lng[] = "long key\0with a NUL inside, and more";
        dict_insert_n(d, int, lng, sizeof lng, 5);
        assert_int_equal(dict_count(d), 5);
        assert_int_equal(*dict_read_n(d, int, "a\0b", 3), 3);
        assert_int_equal(*dict_read_n(d, int, "a\0", 2), 2);
        assert_int_equal(*dict_read(d, int, "a"), 1); /* "a" NUL-terminated: length 1 */
        assert_int_equal(*dict_read_n(d, int, "\0", 1), 4);
        assert_int_equal(*dict_read_n(d, int, lng, sizeof lng), 5);
        assert_null(dict_read_n(d, int, lng, sizeof lng - 1));
        assert_null(dict_read(d, int, lng)); /* "long key" */
        size_t lens[5], n = 0;
        int vals[5];
        dict_foreach_n(d, int, k, len, v) {
            lens[n] = len;
            vals[n] = v;
            assert_int_equal(k[len], '\0'); /* stored keys are NUL-terminated */
            n++;
        }
        assert_int_equal(n, 5);
        assert_int_equal(lens[0], 1);
        assert_int_equal(lens[2], 3);
        assert_int_equal(lens[4], sizeof lng);
        assert_int_equal(vals[3], 4);
        assert_true(dict_delete_n(d, int, "a\0", 2));
        assert_false(dict_delete_n(d, int, "a\0", 2));
        assert_int_equal(*dict_read(d, int, "a"), 1);
        assert_true(dict_replace_n(d, int, "a\0", 2, 20));
        assert_int_equal(*dict_read_n(d, int, "a\0", 2), 20);
        assert_true(dict_delete_n(d, int, lng, sizeof lng));
        assert_int_equal(dict_count(d), 4);
    }
}

/* Keys of every length across the inline (15/16) and hashing (16/17)
 * thresholds, and keys that differ in one byte anywhere. */
static void keys_of_every_length_and_every_byte(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        char key[48];
        int n = 0;
        for (size_t len = 0; len <= 40; len++) {
            memset(key, 'k', len);
            assert_true(dict_insert_n(d, int, key, len, (int)len));
            n++;
            for (size_t pos = 0; pos < len; pos++) {
                key[pos] = (char)(0x80 + pos);
                assert_true(dict_insert_n(d, int, key, len, (int)(1000 * len + pos)));
                key[pos] = 'k';
                n++;
            }
        }
        assert_int_equal(dict_count(d), n);
        for (size_t len = 0; len <= 40; len++) {
            memset(key, 'k', len);
            assert_int_equal(*dict_read_n(d, int, key, len), (int)len);
            for (size_t pos = 0; pos < len; pos++) {
                key[pos] = (char)(0x80 + pos);
                assert_int_equal(*dict_read_n(d, int, key, len), (int)(1000 * len + pos));
                key[pos] = 0; /* a byte never inserted there */
                assert_null(dict_read_n(d, int, key, len));
                key[pos] = 'k';
            }
        }
        int i = 0;
        dict_foreach_n(d, int, k, len, v) {
            assert_int_equal(k[len], 0);
            i++;
        }
        assert_int_equal(i, n);
    }
}

/* Reads of keys shorter than 16 bytes take a path of their own (the key
 * read as two words, compared with the entry's inline copy); longer ones
 * the general path.  Both must agree, for the plain and the _n forms, and
 * a short key must be read within its own bytes: each one here sits at the
 * very end of a malloc block of its length (AddressSanitizer checks). */
static void short_and_long_reads_agree_around_the_inline_length(void** state)
{
    (void)state;
    static const char abc[] = "abcdefghijklmnopqrstuvwxyz";
    sub_heap {
        dict(int)* d = new_dict(int);
        char key[32];
        for (int len = 0; len <= 24; len++) {
            memcpy(key, abc, (size_t)len);
            key[len] = 0;
            assert_true(dict_insert(d, int, key, len));
        }
        for (int len = 0; len <= 24; len++) {
            char* exact = malloc(len ? (size_t)len : 1);
            memcpy(exact, abc, (size_t)len);
            int* p = dict_read_n(d, int, exact, (size_t)len);
            assert_non_null(p);
            assert_int_equal(*p, len);
            memcpy(key, abc, (size_t)len);
            key[len] = 0;
            assert_ptr_equal(dict_read(d, int, key), p);
            assert_ptr_equal(dict_read_n(d, int, abc, (size_t)len), p); /* a prefix of a longer buffer */
            if (len) {
                exact[len - 1] = 'Z'; /* the last byte differs */
                assert_null(dict_read_n(d, int, exact, (size_t)len));
                exact[0] = 'Z'; /* the first too */
                assert_null(dict_read_n(d, int, exact, (size_t)len));
                key[len - 1] = 0; /* NUL inside: same length, other bytes */
                assert_null(dict_read_n(d, int, key, (size_t)len));
            }
            free(exact);
        }
        assert_null(dict_read_n(d, int, abc, 25));
    }
}

/* A reference model: keys and values in insertion order. */
struct model {
    int n;
    char keys[64][24];
    size_t lens[64];
    int vals[64];
};

static int model_find(const struct model* m, const char* k, size_t len)
{
    for (int i = 0; i < m->n; i++)
        if (m->lens[i] == len && memcmp(m->keys[i], k, len) == 0)
            return i;
    return -1;
}

static void model_check(dict(int)* d, const struct model* m)
{
    assert_int_equal(dict_count(d), m->n);
    int i = 0;
    dict_foreach_n(d, int, k, len, v) {
        assert_true(i < m->n);
        assert_int_equal(len, m->lens[i]);
        assert_memory_equal(k, m->keys[i], len);
        assert_int_equal(v, m->vals[i]);
        i++;
    }
    assert_int_equal(i, m->n);
}

/* Random inserts, replaces, deletes and reads against the model, under
 * the real hash and under hashes that make every key collide. */
static void random_changes_match_a_model_even_when_all_keys_collide(void** state)
{
    (void)state;
    uint64_t (*hashes[])(const void*, size_t) = {NULL, hash_zero, hash_ones, hash_first_byte};
    char pool[40][24];
    size_t plen[40];
    for (int i = 0; i < 40; i++) {
        plen[i] = (size_t)(i % 21); /* 0..20 bytes: inline and out of line */
        for (size_t j = 0; j < plen[i]; j++)
            pool[i][j] = (char)((i * 7 + j * 3) % 5); /* many NULs, shared prefixes */
        if (plen[i])
            pool[i][plen[i] - 1] = (char)i;
    }
    for (int h = 0; h < 4; h++) {
        sub_heap {
            dict(int)* d = new_dict(int);
            if (hashes[h])
                dict_test_set_hash(d, hashes[h]);
            struct model m = {0};
            unsigned seed = 12345u + (unsigned)h;
            for (int step = 0; step < 20000; step++) {
                seed = seed * 1103515245u + 12345u;
                int k = (int)((seed >> 8) % 40), op = (int)((seed >> 20) % 4), val = step;
                int at = model_find(&m, pool[k], plen[k]);
                switch (op) {
                case 0:
                    assert_int_equal(dict_insert_n(d, int, pool[k], plen[k], val), at < 0);
                    if (at < 0) {
                        memcpy(m.keys[m.n], pool[k], plen[k]);
                        m.lens[m.n] = plen[k];
                        m.vals[m.n++] = val;
                    }
                    break;
                case 1:
                    assert_int_equal(dict_replace_n(d, int, pool[k], plen[k], val), at < 0);
                    if (at < 0) {
                        memcpy(m.keys[m.n], pool[k], plen[k]);
                        m.lens[m.n] = plen[k];
                        m.vals[m.n++] = val;
                    } else {
                        m.vals[at] = val;
                    }
                    break;
                case 2:
                    assert_int_equal(dict_delete_n(d, int, pool[k], plen[k]), at >= 0);
                    if (at >= 0) {
                        m.n--;
                        memmove(m.keys[at], m.keys[at + 1], sizeof m.keys[0] * (size_t)(m.n - at));
                        memmove(&m.lens[at], &m.lens[at + 1], sizeof m.lens[0] * (size_t)(m.n - at));
                        memmove(&m.vals[at], &m.vals[at + 1], sizeof m.vals[0] * (size_t)(m.n - at));
                    }
                    break;
                default: {
                    int* p = dict_read_n(d, int, pool[k], plen[k]);
                    if (at < 0)
                        assert_null(p);
                    else
                        assert_int_equal(*p, m.vals[at]);
                }
                }
                if (step % 97 == 0)
                    model_check(d, &m);
            }
            model_check(d, &m);
        }
    }
}

static void many_keys_with_the_same_hash(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        dict_test_set_hash(d, hash_ones); /* one probe chain, wrapping the index */
        char key[32];
        for (int i = 0; i < 2000; i++) {
            snprintf(key, sizeof key, "%d", i);
            assert_true(dict_insert(d, int, key, i));
        }
        for (int i = 0; i < 2000; i += 3) {
            snprintf(key, sizeof key, "%d", i);
            assert_true(dict_delete(d, int, key));
        }
        for (int i = 0; i < 2000; i++) {
            snprintf(key, sizeof key, "%d", i);
            int* p = dict_read(d, int, key);
            if (i % 3 == 0)
                assert_null(p);
            else
                assert_int_equal(*p, i);
        }
        int prev = -1, n = 0;
        dict_foreach(d, int, k, v) {
            assert_true(v > prev);
            assert_int_equal(atoi(k), v);
            prev = v;
            n++;
        }
        assert_int_equal(n, dict_count(d));
    }
}

/* ---- foreach ---- */

static void foreach_break_and_continue_act_on_the_loop(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        char key[8];
        for (int i = 0; i < 10; i++) {
            snprintf(key, sizeof key, "%d", i);
            dict_insert(d, int, key, i);
        }
        int seen = 0, last = -1;
        dict_foreach(d, int, k, v) {
            if (v % 2)
                continue;
            seen++;
            last = v;
            if (v == 6)
                break;
        }
        assert_int_equal(seen, 4);
        assert_int_equal(last, 6);
        int outer = 0, inner = 0;
        dict_foreach_n(d, int, k, len, v) {
            outer++;
            dict_foreach(d, int, k2, v2) {
                inner++;
                if (v2 == 1)
                    break;
            }
        }
        assert_int_equal(outer, 10);
        assert_int_equal(inner, 20);
        int n = 0;
        dict_foreach(d, int, k, v) n++; /* unused k and v: no warning */
        dict_foreach_n(d, int, k, len, v) n++;
        assert_int_equal(n, 20);
    }
}

static void foreach_may_delete_the_entry_it_visits(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        char key[32];
        for (int i = 0; i < 1000; i++) {
            snprintf(key, sizeof key, i % 2 ? "%d" : "a long key number %d", i);
            dict_insert(d, int, key, i);
        }
        int n = 0;
        dict_foreach(d, int, k, v) {
            assert_int_equal(v, n);
            if (v % 3)
                assert_true(dict_delete(d, int, k));
            else
                dict_replace(d, int, k, -v);
            n++;
        }
        assert_int_equal(n, 1000);
        assert_int_equal(dict_count(d), 334);
        n = 0;
        dict_foreach(d, int, k, v) {
            assert_int_equal(v, -3 * n);
            n++;
        }
        /* deleting the next entries too stays within the dict */
        n = 0;
        dict_foreach(d, int, k, v) {
            n++;
            dict_delete(d, int, k);
            snprintf(key, sizeof key, "%d", 3 * n);
            dict_delete(d, int, key);
            dict_insert(d, int, "new", 1);
        }
        assert_true(n > 0 && n < 334);
    }
}

static int sum_with_try(dict(int)* d)
{
    volatile int sum = 0;
    dict_foreach_n(d, int, k, len, v) {
        try {
            if (v == 2)
                throw(exception_io, "skip %s (%zu)", k, len);
            sum += v;
        } catch (exception_io, e) {
            txc_free(e);
        }
    }
    return sum;
}

static void foreach_body_may_use_try(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        dict_insert(d, int, "a", 1);
        dict_insert(d, int, "b", 2);
        dict_insert(d, int, "c", 3);
        assert_int_equal(sum_with_try(d), 4);
    }
}

/* ---- the type rules ---- */

typedef struct {
    char city[16];
    double lat, lon;
    int population;
} place;

typedef place* place_ref;

typedef struct {
    alignas(32) float v[8];
} vec8;

static dict(place)* index_places(list(place)* places);

struct atlas {
    dict(place)* by_city;
    dict(place_ref)* refs;
};

static dict(place)* index_places(list(place)* places)
{
    dict(place)* d = new_dict(place);
    list_foreach(places, place, p) dict_insert(d, place, p.city, p);
    return d;
}

static void struct_pointer_and_over_aligned_values(void** state)
{
    (void)state;
    sub_heap {
        list(place)* l = new_list(place);
        list_push_end(l, place, ((place){"Paris", 48.85, 2.35, 2100000}));
        list_push_end(l, place, ((place){"Lyon", 45.76, 4.84, 520000}));
        struct atlas a = {index_places(l), new_dict(place_ref)};
        assert_int_equal(dict_read(a.by_city, place, "Lyon")->population, 520000);
        dict_insert(a.refs, place_ref, "p", dict_read(a.by_city, place, "Paris"));
        assert_true((*dict_read(a.refs, place_ref, "p"))->lat == 48.85);
        dict_foreach(a.by_city, place, k, p) assert_string_equal(k, p.city);
        dict(vec8)* w = txc_new_dict(vec8);
        char key[8];
        for (int i = 0; i < 300; i++) {
            snprintf(key, sizeof key, "%d", i);
            txc_dict_insert(w, vec8, key, ((vec8){{(float)i}}));
        }
        for (int i = 0; i < 300; i++) {
            snprintf(key, sizeof key, "%d", i);
            vec8* p = TXC_DICT_READ(w, vec8, key);
            assert_int_equal((uintptr_t)p % 32, 0);
            assert_true(p->v[0] == (float)i);
        }
    }
    _Static_assert(__builtin_types_compatible_p(dict(int)*, txc_dict(char)*), "one type");
}

/* ---- each argument once ---- */

static int nd, nk, nn, nv;
static dict(int)* the_dict;
static dict(int)* get_dict(void) { nd++; return the_dict; }
static const char* get_key(void) { nk++; return "key"; }
static size_t get_len(void) { nn++; return 3; }
static int get_val(void) { nv++; return 9; }

static void macros_evaluate_each_argument_once(void** state)
{
    (void)state;
    sub_heap {
        the_dict = new_dict(int);
        dict_insert(get_dict(), int, get_key(), get_val());
        dict_insert_n(get_dict(), int, get_key(), get_len(), get_val());
        dict_replace(get_dict(), int, get_key(), get_val());
        dict_replace_n(get_dict(), int, get_key(), get_len(), get_val());
        assert_int_equal(*dict_read(get_dict(), int, get_key()), 9);
        assert_int_equal(*dict_read_n(get_dict(), int, get_key(), get_len()), 9);
        assert_true(dict_delete(get_dict(), int, get_key()));
        dict_insert(the_dict, int, "key", 1);
        assert_true(dict_delete_n(get_dict(), int, get_key(), get_len()));
        assert_int_equal(dict_count(get_dict()), 0);
        dict_foreach(get_dict(), int, k, v) {}
        dict_foreach_n(get_dict(), int, k, len, v) {}
        assert_int_equal(nd, 11);
        assert_int_equal(nk, 8);
        assert_int_equal(nn, 4);
        assert_int_equal(nv, 4);
        dict_insert(the_dict, int, "n", (int)dict_count(the_dict)); /* value first */
        assert_int_equal(*dict_read(the_dict, int, "n"), 0);
    }
}

/* ---- size and ownership ---- */

static void a_million_keys(void** state)
{
    (void)state;
    sub_heap {
        dict(uint32_t)* d = new_dict(uint32_t);
        char key[32];
        for (uint32_t i = 0; i < 1000000; i++) {
            snprintf(key, sizeof key, i % 16 ? "k%u" : "a longer key, number %u", i);
            dict_insert(d, uint32_t, key, i);
        }
        assert_int_equal(dict_count(d), 1000000);
        for (uint32_t i = 0; i < 1000000; i++) {
            snprintf(key, sizeof key, i % 16 ? "k%u" : "a longer key, number %u", i);
            uint32_t* p = dict_read(d, uint32_t, key);
            if (!p || *p != i)
                fail_msg("key %s", key);
            if (i % 2)
                assert_true(dict_delete(d, uint32_t, key));
        }
        assert_int_equal(dict_count(d), 500000);
        uint32_t want = 0;
        dict_foreach(d, uint32_t, k, v) {
            if (v != want)
                fail_msg("%s=%u, want %u", k, v, want);
            want += 2;
        }
        assert_int_equal(want, 1000000);
    }
}

static void fill_dict(void)
{
    dict(int)* d = new_dict(int);
    char key[48];
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof key, i % 2 ? "%d" : "long keys have a block of their own %d", i);
        dict_insert(d, int, key, i);
    }
    for (int i = 0; i < 200000; i += 4) { /* deleted keys are freed too */
        snprintf(key, sizeof key, i % 2 ? "%d" : "long keys have a block of their own %d", i);
        dict_delete(d, int, key);
    }
}

static void dict_and_its_storage_go_with_the_heap(void** state)
{
    (void)state;
    assert_freed_with_its_heap(fill_dict, 8000000);
}

static void escaped_dict_outlives_its_sub_heap(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = NULL;
        sub_heap {
            d = new_dict(int);
            dict_insert(d, int, "a", 1);
            dict_insert(d, int, "a key that is out of line", 2);
            escape(d);
        }
        assert_ptr_equal(txc_heap_of(d), txc_heap_current());
        assert_string_equal(dump(d), "a=1 a key that is out of line=2");
        dict_insert(d, int, "b", 3);
        assert_int_equal(*dict_read(d, int, "a key that is out of line"), 2);
        assert_int_equal(dict_count(d), 3);
    }
}

/* ---- misuse ---- */

static void misuse_throws_exception_arg_saying_what(void** state)
{
    (void)state;
    dict(int)* none = NULL;
    EXPECT_ARG((void)dict_count(none), "txc_dict_count: NULL dict");
    EXPECT_ARG((void)dict_insert(none, int, "k", 1), "txc_dict_insert: NULL dict");
    EXPECT_ARG((void)dict_insert_n(none, int, "k", 1, 1), "txc_dict_insert_n: NULL dict");
    EXPECT_ARG((void)dict_replace(none, int, "k", 1), "txc_dict_replace: NULL dict");
    EXPECT_ARG((void)dict_replace_n(none, int, "k", 1, 1), "txc_dict_replace_n: NULL dict");
    EXPECT_ARG((void)dict_read(none, int, "k"), "txc_dict_read: NULL dict");
    EXPECT_ARG((void)dict_read_n(none, int, "k", 1), "txc_dict_read_n: NULL dict");
    EXPECT_ARG((void)dict_delete(none, int, "k"), "txc_dict_delete: NULL dict");
    EXPECT_ARG((void)dict_delete_n(none, int, "k", 1), "txc_dict_delete_n: NULL dict");
    EXPECT_ARG(dict_foreach(none, int, k, v) {}, "txc_dict_foreach: NULL dict");
    EXPECT_ARG(dict_foreach_n(none, int, k, len, v) {}, "txc_dict_foreach: NULL dict");
    sub_heap {
        dict(int)* volatile d = new_dict(int);
        dict_insert(d, int, "k", 1);
        const char* volatile nokey = NULL;
        EXPECT_ARG((void)dict_insert(d, int, nokey, 1), "txc_dict_insert: NULL key");
        EXPECT_ARG((void)dict_insert_n(d, int, nokey, 0, 1), "txc_dict_insert_n: NULL key");
        EXPECT_ARG((void)dict_replace(d, int, nokey, 1), "txc_dict_replace: NULL key");
        EXPECT_ARG((void)dict_replace_n(d, int, nokey, 0, 1), "txc_dict_replace_n: NULL key");
        EXPECT_ARG((void)dict_read(d, int, nokey), "txc_dict_read: NULL key");
        EXPECT_ARG((void)dict_read_n(d, int, nokey, 0), "txc_dict_read_n: NULL key");
        EXPECT_ARG((void)dict_delete(d, int, nokey), "txc_dict_delete: NULL key");
        EXPECT_ARG((void)dict_delete_n(d, int, nokey, 0), "txc_dict_delete_n: NULL key");
        EXPECT_ARG((void)dict_insert(d, double, "k", 1), "txc_dict_insert: value type of 8 bytes used on a dict of 4-byte values");
        EXPECT_ARG((void)dict_replace(d, char, "k", 1), "txc_dict_replace: value type of 1 bytes");
        EXPECT_ARG((void)dict_read(d, double, "k"), "txc_dict_read: value type of 8 bytes");
        EXPECT_ARG((void)dict_delete(d, place, "k"), "txc_dict_delete: value type of");
        EXPECT_ARG(dict_foreach(d, double, k, v) {}, "txc_dict_foreach: value type of");
        EXPECT_ARG((void)dict_count((dict(int)*)txc_alloc_zero(256)), "is not a dict");
        /* a length beyond the limit is refused before the key is read */
        EXPECT_ARG((void)dict_insert_n(d, int, "k", (size_t)UINT32_MAX, 1), "txc_dict_insert_n: a key of 4294967295 bytes is too long");
        EXPECT_ARG((void)dict_replace_n(d, int, "k", (size_t)1 << 40, 1), "is too long");
        assert_null(dict_read_n(d, int, "k", (size_t)1 << 40)); /* cannot be there */
        assert_false(dict_delete_n(d, int, "k", (size_t)1 << 40));
        assert_string_equal(dump(d), "k=1"); /* nothing changed */
    }
}

#ifdef TXC_FAULT_INJECTION
static dict(int)* fd;
static char* fd_snap;

static void fd_begin(void) { fd = new_dict(int); }

static bool fd_step(int i)
{
    char key[64];
    if (i % 7 == 6) {
        snprintf(key, sizeof key, "%d", i - 1);
        dict_delete(fd, int, key);
    } else {
        snprintf(key, sizeof key, i % 3 ? "%d" : "a key that needs its own block %d", i);
        dict_insert(fd, int, key, i);
    }
    return i < 399;
}

static void fd_snapshot(void) { fd_snap = dump(fd); }
static void fd_check(void) { assert_string_equal(dump(fd), fd_snap); }

static void every_failed_request_leaves_the_dict_as_it_was(void** state)
{
    (void)state;
    static const struct fault_scenario sc = {fd_begin, fd_step, fd_snapshot, fd_check};
    fail_each_request_in_turn(&sc);
}
#endif

/* ---- hashing ---- */

static void siphash_matches_the_reference_vectors(void** state)
{
    (void)state;
    unsigned char key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (unsigned char)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (unsigned char)i;
    /* SipHash-2-4 with key 00..0f on messages 00..(n-1) (Aumasson and
     * Bernstein, the reference implementation's vectors). */
    assert_true(dict_siphash24(key, msg, 0) == UINT64_C(0x726fdb47dd0e0e31));
    assert_true(dict_siphash24(key, msg, 15) == UINT64_C(0xa129ca6149be45e5));
}

/* 4^bits keys of 2*bits bytes with one djb2 value (g_str_hash): pairs of
 * bytes (c, d) with 33c + d equal. */
static char* djb2_colliding_keys(unsigned bits, size_t* n_out)
{
    static const char pairs[4][2] = {{0x40, 100}, {0x41, 67}, {0x42, 34}, {0x43, 1}};
    size_t n = (size_t)1 << (2 * bits), len = 2 * bits;
    char* buf = txc_alloc(n * (len + 1));
    for (size_t i = 0; i < n; i++) {
        char* s = buf + i * (len + 1);
        for (unsigned b = 0; b < bits; b++)
            memcpy(s + 2 * b, pairs[(i >> (2 * b)) & 3], 2);
        s[len] = 0;
    }
    *n_out = n;
    return buf;
}

static unsigned djb2(const char* s)
{
    unsigned h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned)(signed char)*s;
    return h;
}

static uint64_t time_inserts(const char* keys, size_t n, size_t len)
{
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < 3; r++) {
        sub_heap {
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            dict(int)* d = new_dict(int);
            for (size_t i = 0; i < n; i++)
                dict_insert(d, int, keys + i * (len + 1), (int)i);
            clock_gettime(CLOCK_MONOTONIC, &b);
            assert_int_equal(dict_count(d), n);
            uint64_t t = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
            if (t < best)
                best = t;
        }
    }
    return best;
}

/* Keys built to collide under a fixed hash do not slow the dict down: the
 * bound is generous (a loaded machine), bench_dict measures the ratio. */
static void hash_flooding_keys_insert_as_fast_as_random_ones(void** state)
{
    (void)state;
    sub_heap {
        for (unsigned bits = 8; bits <= 9; bits++) { /* 16 bytes (short keys), 18 bytes */
            size_t n, len = 2 * bits;
            char* flood = djb2_colliding_keys(bits, &n);
            for (size_t i = 1; i < n; i++)
                assert_int_equal(djb2(flood + i * (len + 1)), djb2(flood));
            char* rnd = txc_alloc(n * (len + 1));
            unsigned seed = 7;
            for (size_t i = 0; i < n; i++) {
                char* s = rnd + i * (len + 1);
                snprintf(s, len + 1, "%08zx", i);
                for (size_t j = 8; j < len; j++) {
                    seed = seed * 1103515245u + 12345u;
                    s[j] = (char)('a' + (seed >> 16) % 26);
                }
                s[len] = 0;
            }
            uint64_t tf = time_inserts(flood, n, len), tr = time_inserts(rnd, n, len);
            if (tf > 10 * tr)
                fail_msg("%zu colliding keys of %zu bytes: %.1f ns per insert, random ones %.1f",
                         n, len, (double)tf / (double)n, (double)tr / (double)n);
        }
    }
}

/* ---- transactions ---- */

static void aborted_transaction_restores_contents_and_order(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        dict_insert(d, int, "a", 1);
        dict_insert(d, int, "b, a key kept out of line", 2);
        dict_insert(d, int, "c", 3);
        dict_insert(d, int, "d", 4);
        dict_delete(d, int, "d"); /* a free entry before the transaction */
        dict_insert(d, int, "e", 5);
        char* before = dump(d);
        int* pb = dict_read(d, int, "b, a key kept out of line");
        volatile int caught = 0;
        try {
            switch_txn(h) {
                dict_replace(d, int, "a", 10);
                assert_true(dict_delete(d, int, "b, a key kept out of line"));
                dict_insert(d, int, "f", 6);  /* takes b's entry */
                dict_insert(d, int, "g", 7);
                dict_replace(d, int, "f", 60);
                dict_delete(d, int, "c");
                dict_delete(d, int, "a");
                dict_insert(d, int, "a", 100); /* back, at the end */
                char key[48];
                for (int i = 0; i < 5000; i++) { /* the index and the pool grow */
                    snprintf(key, sizeof key, i % 2 ? "%d" : "another long key, number %d", i);
                    dict_insert(d, int, key, i);
                }
                for (int i = 0; i < 5000; i += 3) {
                    snprintf(key, sizeof key, i % 2 ? "%d" : "another long key, number %d", i);
                    dict_delete(d, int, key);
                }
                dict_delete(d, int, "e");
                dict(int)* young = new_dict(int); /* born inside: not logged */
                dict_insert(young, int, "x", 1);
                throw(exception_io, "abort");
            }
        } catch (exception_io, e) {
            caught = 1;
            txc_free(e);
        }
        assert_int_equal(caught, 1);
        assert_string_equal(dump(d), before);
        assert_int_equal(dict_count(d), 4);
        assert_ptr_equal(dict_read(d, int, "b, a key kept out of line"), pb); /* same place */
        assert_null(dict_read(d, int, "f"));
        assert_null(dict_read(d, int, "another long key, number 0"));
        /* and it goes on working */
        dict_insert(d, int, "h", 8);
        dict_delete(d, int, "a");
        assert_string_equal(dump(d), "b, a key kept out of line=2 c=3 e=5 h=8");
    }
}

static void committed_transaction_keeps_the_changes(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        dict_insert(d, int, "a long key that is deleted inside", 1);
        dict_insert(d, int, "b", 2);
        switch_txn(h) {
            dict_delete(d, int, "a long key that is deleted inside"); /* the record keeps the key until commit */
            dict_replace(d, int, "b", 20);
            dict_insert(d, int, "c", 3);
        }
        assert_string_equal(dump(d), "b=20 c=3");
        switch_txn(outer) { /* nested: the inner one commits into the outer */
            switch_txn(inner) { dict_delete(d, int, "b"); }
            dict_insert(d, int, "d", 4);
        }
        assert_string_equal(dump(d), "c=3 d=4");
    }
}

static void nested_abort_undoes_only_the_inner_changes(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        dict_insert(d, int, "a", 1);
        volatile int caught = 0;
        switch_txn(outer) {
            dict_insert(d, int, "b", 2);
            try {
                switch_txn(inner) {
                    dict_delete(d, int, "a");
                    dict_replace(d, int, "b", 20);
                    throw(exception_io, "inner");
                }
            } catch (exception_io, e) {
                caught = 1;
            }
            assert_string_equal(dump(d), "a=1 b=2");
        }
        assert_int_equal(caught, 1);
        assert_string_equal(dump(d), "a=1 b=2");
    }
}

/* Inserts "k<i>" with value i for i in [from, to). */
static void insert_k(dict(int)* d, int from, int to)
{
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_true(dict_insert(d, int, key, i));
    }
}

/* A dict whose index grows past 2 MiB (mapped storage) inside a
 * transaction that aborts: contents, order and value addresses come back,
 * and the dict goes on working in the bigger index it keeps. */
static void aborted_transaction_restores_a_dict_whose_index_grew_big(void** state)
{
    (void)state;
    enum { BEFORE = 90000, INSIDE = 30000 }; /* the index doubles from 1 MiB to 2 MiB at 98304 */
    sub_heap {
        dict(int)* d = new_dict(int);
        insert_k(d, 0, BEFORE);
        int* p7 = dict_read(d, int, "k7");
        size_t mapped = txc__mapped_bytes;
        volatile int caught = 0;
        try {
            switch_txn(h) {
                insert_k(d, BEFORE, BEFORE + INSIDE);
                char key[32];
                for (int i = 0; i < BEFORE + INSIDE; i += 5) {
                    snprintf(key, sizeof key, "k%d", i);
                    dict_delete(d, int, key);
                }
                throw(exception_io, "abort");
            }
        } catch (exception_io, e) {
            caught = 1;
            txc_free(e);
        }
        assert_int_equal(caught, 1);
        assert_true(txc__mapped_bytes > mapped); /* the bigger index stays */
        assert_int_equal(dict_count(d), BEFORE);
        assert_ptr_equal(dict_read(d, int, "k7"), p7);
        char key[32];
        for (int i = 0; i < BEFORE + INSIDE; i++) {
            snprintf(key, sizeof key, "k%d", i);
            int* p = dict_read(d, int, key);
            if (i < BEFORE ? !p || *p != i : p != NULL)
                fail_msg("%s after the abort", key);
        }
        int want = 0;
        dict_foreach(d, int, k, v) {
            if (v != want)
                fail_msg("%s=%d, want %d", k, v, want);
            want++;
        }
        assert_int_equal(want, BEFORE);
        insert_k(d, BEFORE, BEFORE + INSIDE);
        assert_int_equal(dict_count(d), BEFORE + INSIDE);
    }
}

#ifdef TXC_FAULT_INJECTION
/* Inserts key, failing its first memory request, then its second ... until
 * it succeeds; every failure must throw exception_nomem and leave d as it
 * was (n entries, key absent, probe still found). */
static void insert_through_failures(dict(int)* d, const char* key, int n, const char* probe)
{
    size_t mapped = txc__mapped_bytes;
    for (volatile unsigned long nth = 1;; nth++) {
        volatile bool done = false;
        try {
            txc__fault_inject(nth);
            dict_insert(d, int, key, n);
            done = true;
        } catch (exception_nomem, e) {
            txc_free(e);
        }
        txc__fault_inject(0);
        if (done)
            break;
        assert_int_equal(dict_count(d), n);
        assert_null(dict_read(d, int, key));
        assert_non_null(dict_read(d, int, probe));
    }
    assert_int_equal(*dict_read(d, int, key), n);
    assert_true(txc__mapped_bytes > mapped); /* the new table was a mapped one */
}

/* The insertions that need a new block of entries (65528: 65536 entries of
 * 40 bytes) and a new index (98304: 2^18 slots of 8 bytes), both big
 * enough to be mapped, fail cleanly. */
static void failed_big_table_leaves_the_dict_as_it_was(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        insert_k(d, 0, 65528);
        insert_through_failures(d, "k65528", 65528, "k1");
        insert_k(d, 65529, 98304);
        insert_through_failures(d, "k98304", 98304, "k1");
        assert_int_equal(dict_count(d), 98305);
    }
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(new_dict_is_empty_on_the_current_heap),
        TEST(insert_adds_and_refuses_a_present_key),
        TEST(keys_are_copied_in),
        TEST(read_gives_a_pointer_to_the_value_or_null),
        TEST(read_pointer_stays_valid_while_other_entries_change),
        TEST(replace_inserts_or_overwrites_keeping_the_position),
        TEST(delete_removes_and_reports_absence),
        TEST(order_after_deletes_and_reinserts),
        TEST(the_empty_key_is_a_key),
        TEST(keys_may_hold_nul_bytes),
        TEST(keys_of_every_length_and_every_byte),
        TEST(short_and_long_reads_agree_around_the_inline_length),
        TEST(random_changes_match_a_model_even_when_all_keys_collide),
        TEST(many_keys_with_the_same_hash),
        TEST(foreach_break_and_continue_act_on_the_loop),
        TEST(foreach_may_delete_the_entry_it_visits),
        TEST(foreach_body_may_use_try),
        TEST(struct_pointer_and_over_aligned_values),
        TEST(macros_evaluate_each_argument_once),
        TEST(a_million_keys),
        TEST(dict_and_its_storage_go_with_the_heap),
        TEST(escaped_dict_outlives_its_sub_heap),
        TEST(misuse_throws_exception_arg_saying_what),
#ifdef TXC_FAULT_INJECTION
        TEST(every_failed_request_leaves_the_dict_as_it_was),
#endif
        TEST(siphash_matches_the_reference_vectors),
        TEST(hash_flooding_keys_insert_as_fast_as_random_ones),
        TEST(aborted_transaction_restores_contents_and_order),
        TEST(committed_transaction_keeps_the_changes),
        TEST(nested_abort_undoes_only_the_inner_changes),
        TEST(aborted_transaction_restores_a_dict_whose_index_grew_big),
#ifdef TXC_FAULT_INJECTION
        TEST(failed_big_table_leaves_the_dict_as_it_was),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
