/*
 * jsontok.h: strict JSON tokenising for every parser of untrusted bytes
 * (POST bodies in fcgi/, API responses in worker/).
 *
 * jsmn (strict mode) finds the structure but does not check separators,
 * literals, numbers or string contents; json_tokenise() adds exactly that,
 * so a document it accepts is valid RFC 8259 JSON holding one value.
 * Tokens are offsets into the input: string tokens exclude their quotes.
 */
#ifndef OWM_JSONTOK_H
#define OWM_JSONTOK_H

#include <stddef.h>

#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER

/*
 * Tokenise js[0..len) into t[0..max).  Returns the token count, or -1
 * with *why set: "truncated JSON", "too many JSON values", "not valid
 * JSON", or the string-level reason from json_unescape().
 */
int	json_tokenise(const char *js, size_t len, jsmntok_t *t, unsigned max,
	    const char **why);

/* Index of the token after the subtree rooted at t[i]. */
int	json_skip(const jsmntok_t *t, int i);

/* 1 if token t spans exactly the bytes of s. */
int	json_tok_eq(const char *js, const jsmntok_t *t, const char *s);

#endif
