/*
 * passwd: the `tollgate passwd FILE USER [--realm REALM] [--delete]`
 * subcommand, which maintains a users file (cred/userfile.h). The password
 * is read from standard input: on a terminal it is asked twice with echo
 * off, otherwise one line is read (trailing newline stripped), so scripts
 * can pipe it in. Never prints the password.
 */
#ifndef TG_PASSWD_H
#define TG_PASSWD_H

/*
 * argv[0] is "passwd". Returns the process exit status: 0 done, 1 failed
 * (I/O, mismatch), 2 usage error.
 */
int tg_passwd_main(int argc, char **argv);

#endif
