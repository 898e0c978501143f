/*
 * errpage: static texts, selected by status.
 */
#include "proxy/errpage.h"

#include <stddef.h>

struct page {
    int status;
    const char *phrase;
    const char *body;
};

static const struct page pages[] = {
    {200, "Connection established", ""},
    {400, "Bad Request", "Tollgate could not understand this request.\n"},
    {403, "Forbidden", "Tollgate does not allow this request.\n"},
    {407, "Proxy Authentication Required",
     "This proxy requires authentication. Configure your client with a proxy user name "
     "and password.\n"},
    {408, "Request Timeout", "The request head did not arrive in time.\n"},
    {413, "Content Too Large", "The request body is larger than this proxy accepts.\n"},
    {414, "URI Too Long", "The request line is longer than this proxy accepts.\n"},
    {417, "Expectation Failed", "This proxy does not support that expectation.\n"},
    {429, "Too Many Requests", "Too many failed attempts. Try again later.\n"},
    {431, "Request Header Fields Too Large",
     "The request head is larger than this proxy accepts.\n"},
    {500, "Internal Server Error", "Tollgate failed to handle this request.\n"},
    {501, "Not Implemented", "Tollgate does not implement what this request needs.\n"},
    {502, "Bad Gateway", "Tollgate could not get a valid response from the origin server.\n"},
    {503, "Service Unavailable", "Tollgate is overloaded or shutting down. Try again later.\n"},
    {504, "Gateway Timeout", "The origin server did not answer in time.\n"},
    {505, "HTTP Version Not Supported", "Tollgate speaks HTTP/1.0 and HTTP/1.1.\n"},
};

const char tg_errpage_tls_required[] =
    "This proxy accepts these credentials only over its TLS listener: configure your client\n"
    "with an https:// proxy URL (for curl: -x https://PROXY_HOST:TLS_PORT).\n";

const char tg_errpage_not_a_server[] =
    "This is Tollgate, an HTTP proxy. It does not serve pages of its own.\n"
    "\n"
    "To use it, configure your client to send requests through it, for example:\n"
    "  curl -x http://PROXY_HOST:PORT --proxy-user USER:PASSWORD http://example.com/\n"
    "or set http_proxy=http://USER:PASSWORD@PROXY_HOST:PORT in the environment.\n";

static const struct page *find(int status)
{
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        if (pages[i].status == status)
            return &pages[i];
    }
    return NULL;
}

const char *tg_errpage_phrase(int status)
{
    const struct page *p = find(status);
    return p ? p->phrase : "Error";
}

const char *tg_errpage_body(int status)
{
    const struct page *p = find(status);
    return p ? p->body : "Tollgate could not handle this request.\n";
}
