/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The image's network: a scripted MQTT 3.1.1 broker behind an mqe_transport_t. It parses
   what the client sends, byte by byte, and queues the broker's answers for recv. */
#ifndef CORTEX_M_BROKER_H
#define CORTEX_M_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt_engine.h"

/* Topic the broker publishes to (QoS 1 and 2) after the first SUBSCRIBE. */
#define BROKER_PUSH_TOPIC "dev/in/cmd"

/* One PUBLISH the client sent, as the broker decoded it (texts cut to fit, NUL-terminated). */
typedef struct {
  char topic[24];
  char payload[24];
  uint8_t qos;
  bool dup;
} broker_publish_t;

#define BROKER_PUBLISH_LOG 16

typedef struct {
  /* Script knobs. */
  bool truncate_next_puback; /* answer the next QoS 1 PUBLISH with a PUBACK of length 1 */
  bool push_after_subscribe; /* publish QoS 1 and 2 to the client after its first SUBACK */
  bool push_qos1_only;       /* ... only the QoS 1 one (a client built without QoS 2) */
  size_t max_send_chunk;     /* accept at most this many bytes per send (partial writes) */
  uint32_t stall_recvs;      /* latency: answer this many recv calls with MQE_IO_WOULD_BLOCK */

  /* What the broker saw. */
  uint32_t connects, subscribes, unsubscribes, pingreqs, disconnects;
  uint32_t pushes;         /* broker_publish calls */
  uint32_t publishes[3];   /* per QoS */
  broker_publish_t publish_log[BROKER_PUBLISH_LOG]; /* ring of the latest client PUBLISHes */
  uint32_t publish_log_count;                        /* how many were ever logged */
  uint32_t dup_publishes;  /* PUBLISH with DUP set (re-sent after a reconnect) */
  uint32_t pubrels;        /* PUBREL from the client (its QoS 2 publish) */
  uint32_t pubacks, pubrecs, pubcomps; /* the client's answers to the broker's publishes */
  bool last_connect_clean;
  bool protocol_violation; /* a packet the broker did not expect */

  /* Connection state. */
  bool has_session;
  bool socket_open;
  bool peer_closed;
  uint8_t inbox[256];  /* client -> broker, not yet a whole packet */
  size_t inbox_len;
  uint8_t outbox[256]; /* broker -> client */
  size_t outbox_head, outbox_len;
} broker_t;

/* The broker publishes `payload` on `topic` to the client now (as if another client had),
   at QoS 0, 1 or 2; the client reads it on its next poll. Short texts only. */
void broker_publish(broker_t *b, const char *topic, uint8_t qos, const char *payload);

/* The client's PUBLISH `back` packets before the latest (0: the latest); NULL if none. */
const broker_publish_t *broker_client_publish(const broker_t *b, uint32_t back);

/* The transport vtable over `b` (ctx = b). */
mqe_transport_t broker_transport(broker_t *b);

#endif
