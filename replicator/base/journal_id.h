/*
 * journal_id.h -- a journal's identity: a random name given to a journal
 * directory when it is created, so a target's position (which records the
 * identity beside the position) is never read against another journal.
 */
#ifndef SS_JOURNAL_ID_H
#define SS_JOURNAL_ID_H

#include "err.h"

#define SS_JOURNAL_ID_LEN 32 /* hex digits */

/* The identity of the journal in DIR, from DIR/id; when the file is
 * missing and create is set, a new one is made (durably) first: a journal
 * written before identities existed gets one the first time it is opened
 * for writing.  create 0 and no file: out is "" and 0 is returned. */
int ss_journal_dir_id(const char *dir, int create, char out[SS_JOURNAL_ID_LEN + 1],
		      struct ss_err *err) SS_MUST_CHECK;

#endif
