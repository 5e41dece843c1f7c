/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "broker.h"

#include <string.h>

#define SOCKET_HANDLE 3

static void queue(broker_t *b, const uint8_t *bytes, size_t len) {
  if (b->outbox_head + b->outbox_len + len > sizeof b->outbox) {
    memmove(b->outbox, b->outbox + b->outbox_head, b->outbox_len);
    b->outbox_head = 0;
  }
  if (b->outbox_len + len > sizeof b->outbox) {
    b->protocol_violation = true; /* the script never queues this much */
    return;
  }
  memcpy(b->outbox + b->outbox_head + b->outbox_len, bytes, len);
  b->outbox_len += len;
}

static void queue_ack(broker_t *b, uint8_t first_byte, uint16_t id) {
  const uint8_t ack[4] = {first_byte, 2, (uint8_t)(id >> 8), (uint8_t)id};
  queue(b, ack, sizeof ack);
}

/* PUBLISH to the client: `topic`, `payload`, packet id `id` (unused at QoS 0). */
static void queue_publish(broker_t *b, const char *topic, uint8_t qos, uint16_t id,
                          const char *payload) {
  const size_t topic_len = strlen(topic);
  const size_t payload_len = strlen(payload);
  uint8_t packet[64];
  const size_t remaining = 2 + topic_len + (qos ? 2 : 0) + payload_len;
  if (qos > 2 || remaining > sizeof packet - 2) {
    b->protocol_violation = true; /* the script only sends short messages */
    return;
  }
  size_t n = 0;
  packet[n++] = (uint8_t)(0x30 | (qos << 1));
  packet[n++] = (uint8_t)remaining;
  packet[n++] = 0;
  packet[n++] = (uint8_t)topic_len;
  memcpy(packet + n, topic, topic_len);
  n += topic_len;
  if (qos) {
    packet[n++] = (uint8_t)(id >> 8);
    packet[n++] = (uint8_t)id;
  }
  memcpy(packet + n, payload, payload_len);
  queue(b, packet, n + payload_len);
}

void broker_publish(broker_t *b, const char *topic, uint8_t qos, const char *payload) {
  /* Ids 0x0301 on: apart from those of the pushes after SUBSCRIBE (0x0101, 0x0202). */
  queue_publish(b, topic, qos, (uint16_t)(0x0301 + b->pushes++), payload);
}

const broker_publish_t *broker_client_publish(const broker_t *b, uint32_t back) {
  if (back >= b->publish_log_count || back >= BROKER_PUBLISH_LOG) {
    return NULL;
  }
  return &b->publish_log[(b->publish_log_count - 1 - back) % BROKER_PUBLISH_LOG];
}

static void copy_text(char *dst, size_t cap, const uint8_t *src, size_t len) {
  const size_t n = len < cap - 1 ? len : cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static uint16_t id_at(const uint8_t *body) { return (uint16_t)((body[0] << 8) | body[1]); }

/* One whole packet from the client: its first byte and body. */
static void handle_packet(broker_t *b, uint8_t first, const uint8_t *body, size_t len) {
  const uint8_t type = first >> 4;
  if (type >= 3 && type <= 10 && len < 2) {
    b->protocol_violation = true; /* every one of these starts with a packet id or topic */
    return;
  }
  switch (type) {
  case 1: { /* CONNECT: protocol name "MQTT", level 4, then the flags */
    if (len < 10 || memcmp(body, "\0\4MQTT\4", 7) != 0) {
      b->protocol_violation = true;
      return;
    }
    b->connects++;
    b->last_connect_clean = (body[7] & 0x02) != 0;
    const uint8_t session_present = (!b->last_connect_clean && b->has_session) ? 1 : 0;
    b->has_session = !b->last_connect_clean;
    const uint8_t connack[4] = {0x20, 2, session_present, 0};
    queue(b, connack, sizeof connack);
    return;
  }
  case 3: { /* PUBLISH */
    const uint8_t qos = (first >> 1) & 3;
    if (qos > 2) {
      b->protocol_violation = true;
      return;
    }
    b->publishes[qos]++;
    if (first & 0x08) {
      b->dup_publishes++;
    }
    const size_t topic_len = id_at(body);
    const size_t payload_at = 2u + topic_len + (qos ? 2u : 0u);
    if (payload_at > len) {
      b->protocol_violation = true;
      return;
    }
    broker_publish_t *logged = &b->publish_log[b->publish_log_count++ % BROKER_PUBLISH_LOG];
    copy_text(logged->topic, sizeof logged->topic, body + 2, topic_len);
    copy_text(logged->payload, sizeof logged->payload, body + payload_at, len - payload_at);
    logged->qos = qos;
    logged->dup = (first & 0x08) != 0;
    if (qos == 0) {
      return;
    }
    const uint16_t id = id_at(body + 2 + topic_len);
    if (qos == 1 && b->truncate_next_puback) {
      b->truncate_next_puback = false;
      const uint8_t truncated[3] = {0x40, 1, (uint8_t)(id >> 8)};
      queue(b, truncated, sizeof truncated);
    } else {
      queue_ack(b, qos == 1 ? 0x40 : 0x50, id); /* PUBACK or PUBREC */
    }
    return;
  }
  case 4: /* PUBACK for the broker's QoS 1 publish */
    b->pubacks++;
    return;
  case 5: /* PUBREC for the broker's QoS 2 publish: release it */
    b->pubrecs++;
    queue_ack(b, 0x62, id_at(body));
    return;
  case 6: /* PUBREL for the client's QoS 2 publish */
    b->pubrels++;
    queue_ack(b, 0x70, id_at(body));
    return;
  case 7: /* PUBCOMP for the broker's QoS 2 publish */
    b->pubcomps++;
    return;
  case 8: { /* SUBSCRIBE: grant each filter its requested QoS */
    uint8_t suback[2 + 2 + 8] = {0x90, 2, body[0], body[1]};
    size_t at = 2;
    while (at + 2 <= len && suback[1] < 2 + 8) {
      const size_t filter_len = id_at(body + at);
      at += 2 + filter_len;
      if (at >= len) {
        b->protocol_violation = true;
        return;
      }
      suback[2 + suback[1]] = body[at++];
      suback[1]++;
    }
    queue(b, suback, 2u + suback[1]);
    if (b->subscribes++ == 0 && b->push_after_subscribe) {
      queue_publish(b, BROKER_PUSH_TOPIC, 1, 0x0101, "qos1-from-broker");
      if (!b->push_qos1_only) {
        queue_publish(b, BROKER_PUSH_TOPIC, 2, 0x0202, "qos2-from-broker");
      }
    }
    return;
  }
  case 10: /* UNSUBSCRIBE */
    b->unsubscribes++;
    queue_ack(b, 0xB0, id_at(body));
    return;
  case 12: { /* PINGREQ */
    b->pingreqs++;
    const uint8_t pingresp[2] = {0xD0, 0};
    queue(b, pingresp, sizeof pingresp);
    return;
  }
  case 14: /* DISCONNECT */
    b->disconnects++;
    b->peer_closed = true;
    return;
  default:
    b->protocol_violation = true;
    return;
  }
}

/* Takes every whole packet off the front of the inbox. */
static void drain_inbox(broker_t *b) {
  for (;;) {
    size_t length = 0, at = 1;
    unsigned shift = 0;
    for (;;) {
      if (at >= b->inbox_len || at > 4) {
        return; /* header incomplete */
      }
      const uint8_t digit = b->inbox[at++];
      length |= (size_t)(digit & 0x7F) << shift;
      shift += 7;
      if (!(digit & 0x80)) {
        break;
      }
    }
    if (at + length > b->inbox_len) {
      return;
    }
    handle_packet(b, b->inbox[0], b->inbox + at, length);
    b->inbox_len -= at + length;
    memmove(b->inbox, b->inbox + at + length, b->inbox_len);
  }
}

static int32_t t_open(void *ctx) {
  broker_t *b = ctx;
  if (b->socket_open) {
    b->protocol_violation = true; /* one socket at a time */
    return -1;
  }
  b->socket_open = true;
  b->peer_closed = false;
  b->inbox_len = b->outbox_head = b->outbox_len = 0;
  return SOCKET_HANDLE;
}

static int32_t t_connect(void *ctx, int32_t sock, const mqe_sockaddr_t *addr) {
  (void)ctx;
  return (sock == SOCKET_HANDLE && addr->family == 4 && addr->port == 1883) ? 0 : -1;
}

static int32_t t_send(void *ctx, int32_t sock, const uint8_t *buf, size_t len) {
  broker_t *b = ctx;
  if (sock != SOCKET_HANDLE || !b->socket_open || b->peer_closed) {
    return -1;
  }
  size_t n = len;
  if (b->max_send_chunk && n > b->max_send_chunk) {
    n = b->max_send_chunk;
  }
  if (n > sizeof b->inbox - b->inbox_len) {
    n = sizeof b->inbox - b->inbox_len;
  }
  if (n == 0) {
    return MQE_IO_WOULD_BLOCK;
  }
  memcpy(b->inbox + b->inbox_len, buf, n);
  b->inbox_len += n;
  drain_inbox(b);
  return (int32_t)n;
}

static int32_t t_recv(void *ctx, int32_t sock, uint8_t *buf, size_t len) {
  broker_t *b = ctx;
  if (sock != SOCKET_HANDLE || !b->socket_open) {
    return -1;
  }
  if (b->stall_recvs > 0) {
    b->stall_recvs--;
    return MQE_IO_WOULD_BLOCK;
  }
  if (b->outbox_len == 0) {
    return b->peer_closed ? 0 : MQE_IO_WOULD_BLOCK;
  }
  const size_t n = len < b->outbox_len ? len : b->outbox_len;
  memcpy(buf, b->outbox + b->outbox_head, n);
  b->outbox_head += n;
  b->outbox_len -= n;
  return (int32_t)n;
}

static void t_close(void *ctx, int32_t sock) {
  broker_t *b = ctx;
  if (sock != SOCKET_HANDLE || !b->socket_open) {
    b->protocol_violation = true;
  }
  b->socket_open = false;
}

mqe_transport_t broker_transport(broker_t *b) {
  mqe_transport_t t = {0};
  t.ctx = b;
  t.open = t_open;
  t.connect = t_connect;
  t.send = t_send;
  t.recv = t_recv;
  t.close = t_close;
  return t;
}
