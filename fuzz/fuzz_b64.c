/*
 * fuzz_b64: base/b64 on arbitrary input. Two properties:
 *   - whatever decodes re-encodes to exactly the input (strict decoding
 *     accepts one spelling per byte string), and that decodes again to the
 *     same bytes;
 *   - any bytes encode to something that decodes back to them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decoded_re_encodes_to_input(const uint8_t *data, size_t size)
{
    unsigned char *out = malloc(size / 4 * 3 + 1);
    char *enc = malloc(TG_B64_ENCODED_SIZE(size));
    unsigned char *again = malloc(size / 4 * 3 + 1);
    long n = tg_b64_decode((const char *)data, size, out, size / 4 * 3);
    if (n >= 0) {
        size_t elen = tg_b64_encode(out, (size_t)n, enc);
        if (elen != size || memcmp(enc, data, size) != 0)
            abort();
        if (tg_b64_decode(enc, elen, again, (size_t)n) != n || memcmp(again, out, (size_t)n) != 0)
            abort();
    }
    free(out);
    free(enc);
    free(again);
}

static void encoded_decodes_to_input(const uint8_t *data, size_t size)
{
    char *enc = malloc(TG_B64_ENCODED_SIZE(size));
    unsigned char *back = malloc(size + 1);
    size_t elen = tg_b64_encode(data, size, enc);
    if (elen + 1 != TG_B64_ENCODED_SIZE(size) || enc[elen] != '\0')
        abort();
    if (tg_b64_decode(enc, elen, back, size) != (long)size || memcmp(back, data, size) != 0)
        abort();
    free(enc);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decoded_re_encodes_to_input(data, size);
    encoded_decodes_to_input(data, size);
    return 0;
}
