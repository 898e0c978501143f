/* clock: monotonic and wall time in the units the rest of the code uses. */
#ifndef TG_CLOCK_H
#define TG_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds; for deadlines and durations. */
uint64_t tg_clock_mono_ms(void);

/* Monotonic microseconds; for request durations in logs. */
uint64_t tg_clock_mono_us(void);

/* Wall-clock seconds since the epoch, with milliseconds; for log stamps. */
double tg_clock_wall(void);

#endif
