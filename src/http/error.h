/*
 * error: how the HTTP parsers report invalid input. A parser that rejects
 * input says which status the client should get and a short stable reason
 * token that goes into the logs (never the offending bytes).
 */
#ifndef TG_HTTP_ERROR_H
#define TG_HTTP_ERROR_H

struct tg_http_error {
    int status;         /* 400, 413, 414, 431, 501, 502 ... */
    const char *reason; /* static token, e.g. "cl_te_conflict" */
};

#endif
