/*
 * token: the `tollgate token FILE USER [--ttl DURATION]` subcommand, which
 * mints an opaque Bearer token for USER (auth/tokens.h): it prints the
 * token once on standard output, and appends only its SHA-256 to FILE
 * (created 0600), so the token cannot be recovered from the file later.
 * DURATION is seconds, or a number with s, m, h or d (3600, 90m, 12h,
 * 30d); without --ttl the token does not expire. A running proxy picks the
 * new line up on SIGHUP.
 */
#ifndef TG_TOKEN_H
#define TG_TOKEN_H

/*
 * argv[0] is "token". Returns the process exit status: 0 done, 1 failed
 * (randomness, I/O, FILE exists but is not a valid token file), 2 usage
 * error. Prints the token on stdout and messages on stderr. Main thread.
 */
int tg_token_main(int argc, char **argv);

#endif
