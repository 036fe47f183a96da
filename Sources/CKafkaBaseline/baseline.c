#include "baseline.h"
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set(rd_kafka_conf_t *conf, const char *key, const char *value, hssk_baseline_result *result) {
    if (rd_kafka_conf_set(conf, key, value, result->message, sizeof result->message) != RD_KAFKA_CONF_OK) {
        result->error = RD_KAFKA_RESP_ERR__INVALID_ARG;
        return 0;
    }
    return 1;
}

typedef struct { int64_t delivered; int64_t failed; } delivery_counts;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
    (void)rk;
    delivery_counts *counts = opaque;
    if (message->err) counts->failed++; else counts->delivered++;
}

hssk_baseline_result hssk_baseline_produce(const char *bootstrap, const char *topic, int64_t count, int value_size) {
    hssk_baseline_result result = {0};
    delivery_counts counts = {0, 0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!set(conf, "bootstrap.servers", bootstrap, &result) || !set(conf, "enable.idempotence", "true", &result) ||
        !set(conf, "acks", "all", &result) || !set(conf, "linger.ms", "5", &result) ||
        !set(conf, "queue.buffering.max.messages", "100000", &result) || !set(conf, "log_level", "3", &result)) {
        rd_kafka_conf_destroy(conf);
        return result;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &counts);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, result.message, sizeof result.message);
    if (!rk) { result.error = RD_KAFKA_RESP_ERR__FAIL; return result; }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    char *value = malloc((size_t)value_size);
    memset(value, 'x', (size_t)value_size);
    static const char ce_type[] = "vn.hssk.visit.v1";
    char key[32];

    double start = now_seconds();
    for (int64_t i = 0; i < count; i++) {
        int key_len = snprintf(key, sizeof key, "key-%lld", (long long)(i % 1000));
        for (;;) {
            rd_kafka_headers_t *headers = rd_kafka_headers_new(1);
            rd_kafka_header_add(headers, "ce_type", -1, ce_type, sizeof ce_type - 1);
            rd_kafka_resp_err_t err = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                        RD_KAFKA_V_KEY(key, (size_t)key_len), RD_KAFKA_V_VALUE(value, (size_t)value_size),
                                                        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            rd_kafka_headers_destroy(headers);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                result.error = err;
                snprintf(result.message, sizeof result.message, "produce: %s", rd_kafka_err2str(err));
                goto done;
            }
            rd_kafka_poll(rk, 1);
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    result.seconds = now_seconds() - start;
    result.records = counts.delivered;
    if (counts.failed) {
        result.error = RD_KAFKA_RESP_ERR__MSG_TIMED_OUT;
        snprintf(result.message, sizeof result.message, "%lld records failed", (long long)counts.failed);
    }
done:
    free(value);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return result;
}

hssk_baseline_result hssk_baseline_consume(const char *bootstrap, const char *topic, const char *group, int64_t count) {
    hssk_baseline_result result = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!set(conf, "bootstrap.servers", bootstrap, &result) || !set(conf, "group.id", group, &result) ||
        !set(conf, "enable.auto.commit", "false", &result) || !set(conf, "enable.auto.offset.store", "false", &result) ||
        !set(conf, "auto.offset.reset", "earliest", &result) ||
        !set(conf, "partition.assignment.strategy", "cooperative-sticky", &result) || !set(conf, "log_level", "3", &result) ||
        !set(conf, "queued.max.messages.kbytes", "1048576", &result)) {
        rd_kafka_conf_destroy(conf);
        return result;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, result.message, sizeof result.message);
    if (!rk) { result.error = RD_KAFKA_RESP_ERR__FAIL; return result; }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);

    double start = 0, deadline = now_seconds() + 120;
    int64_t bytes = 0;
    while (result.records < count && now_seconds() < deadline) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(rk, 100);
        if (!message) continue;
        if (!message->err) {
            if (result.records == 0) start = now_seconds();
            result.records++;
            /* The least a real consumer reads: key, value and every header (hssk routes on ce_* headers). */
            bytes += (int64_t)message->len + (int64_t)message->key_len;
            rd_kafka_headers_t *headers;
            if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char *name;
                const void *value;
                size_t size;
                for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
                    bytes += (int64_t)size;
            }
        }
        rd_kafka_message_destroy(message);
    }
    result.seconds = now_seconds() - start;
    if (result.records < count) {
        result.error = RD_KAFKA_RESP_ERR__TIMED_OUT;
        snprintf(result.message, sizeof result.message, "consumed %lld of %lld records (%lld bytes)",
                 (long long)result.records, (long long)count, (long long)bytes);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return result;
}
