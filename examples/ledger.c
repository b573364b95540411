/*
 * ledger.c - a small bank ledger whose transfers run in transactions.
 *
 * Balances live in a dict on the ledger's heap.  Each input line runs in
 * switch_txn: a transfer debits one account, then credits the other.  When
 * anything fails after the debit -- an unknown account, insufficient funds,
 * a malformed line -- a typed exception leaves the transaction, and the
 * dict is exactly as it was before the line: no balance changes, and
 * nothing the line allocated stays behind.
 *
 * usage: ledger [file]   (default: examples/ledger.txt)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <txc.h>

define_exception(ledger_error, exception_any);
define_exception(bad_input, ledger_error);
define_exception(unknown_account, ledger_error);
define_exception(insufficient_funds, ledger_error);

static long parse_amount(const char* s)
{
    char* end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0)
        throw(bad_input, "\"%s\" is not an amount", s);
    return v;
}

static long* account(dict(long)* accounts, const char* name)
{
    long* balance = dict_read(accounts, long, name);
    if (!balance)
        throw(unknown_account, "no account \"%s\"", name);
    return balance;
}

static void transfer(dict(long)* accounts, const char* from, const char* to, long amount)
{
    long have = *account(accounts, from);
    if (have < amount)
        throw(insufficient_funds, "%s has %ld, needs %ld", from, have, amount);
    dict_replace(accounts, long, from, have - amount); /* the debit comes first... */
    long* dest = account(accounts, to);                /* ...so a failure here is undone */
    dict_replace(accounts, long, to, *dest + amount);
}

/* One line, in a transaction on the ledger's heap. */
static void run_line(txc_heap_t* ledger, dict(long)* accounts, char* line)
{
    switch_heap(ledger) {
        switch_txn(kept) {
            sub_heap { /* working memory: freed on every exit */
                char* words[5];
                int n = 0;
                for (char* w = strtok(line, " \t"); w && n < 5; w = strtok(NULL, " \t"))
                    words[n++] = txc_strdup(w);
                if (n == 3 && strcmp(words[0], "open") == 0) {
                    if (!dict_insert(accounts, long, words[1], parse_amount(words[2])))
                        throw(bad_input, "account \"%s\" exists", words[1]);
                } else if (n == 4 && strcmp(words[0], "transfer") == 0) {
                    transfer(accounts, words[1], words[2], parse_amount(words[3]));
                } else {
                    throw(bad_input, "cannot read \"%s\"", n ? words[0] : "");
                }
            }
        }
    }
}

static void print_balances(dict(long)* accounts)
{
    long total = 0;
    dict_foreach(accounts, long, name, balance) {
        printf(" %s=%ld", name, balance);
        total += balance;
    }
    printf("  (total %ld)\n", total);
}

int main(int argc, char** argv)
{
    const char* path = argc > 1 ? argv[1] : "examples/ledger.txt";
    FILE* f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    txc_heap_t* ledger = txc_heap_new();
    dict(long)* accounts = NULL;
    switch_heap(ledger) { accounts = new_dict(long); }

    char line[256];
    int lineno = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        printf("%2d  %-26s", lineno, line);
        sub_heap { /* the caught exception lives here, and goes with it */
            try {
                run_line(ledger, accounts, line);
                printf(" ok  ");
            } catch (ledger_error, e) {
                printf(" FAILED (%s: %s), nothing changed\n    ", e->type->name, e->message);
                failed++;
            }
        }
        print_balances(accounts);
    }
    fclose(f);
    txc_heap_stats_t s;
    txc_heap_stats(ledger, &s);
    printf("%d lines failed; the ledger heap holds %zu allocation(s)\n", failed, s.total_allocs);
    txc_free(ledger);
    return 0;
}
