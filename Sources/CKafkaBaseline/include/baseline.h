#ifndef HSSK_KAFKA_BASELINE_H
#define HSSK_KAFKA_BASELINE_H
#include <stdint.h>

/* The yardstick of `hssk bench kafka`: the same work as the Swift API, written as a minimal loop of
   raw librdkafka C calls with the same client settings. */
typedef struct {
    int64_t records;      /* records produced (acknowledged) or consumed */
    double seconds;       /* wall time of the measured part */
    int error;            /* 0, or a librdkafka error code */
    char message[256];    /* what went wrong, when error != 0 */
} hssk_baseline_result;

/* Produces `count` records (key "key-<i % 1000>", `value_size` bytes of value, one `ce_type` header)
   with enable.idempotence=true, acks=all, linger.ms=5; timed until the last delivery report. */
hssk_baseline_result hssk_baseline_produce(const char *bootstrap, const char *topic, int64_t count, int value_size);

/* Consumes `count` records from the start of `topic` in a new consumer group, reading each record's
   key, value and headers; timed from the first record to the last, so group-join time is not measured. */
hssk_baseline_result hssk_baseline_consume(const char *bootstrap, const char *topic, const char *group, int64_t count);
#endif
