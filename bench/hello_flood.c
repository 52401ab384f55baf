/*
 * A native hello flooder for bench/flood.ts (compiled there with cc, never
 * committed as a binary): opens connections from SRC (a loopback address of
 * its own, so that no port of an earlier run is left in TIME_WAIT), at RATE
 * per second for SECONDS, each sending one well-formed hello of the secret
 * exchange (version 2, feature byte 0, a random nonce) and closing at once,
 * over TCP or TLS (certificate not checked). Prints one JSON line.
 *
 *   hello_flood SRC DST PORT RATE SECONDS tcp|tls THREADS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in source, target;
static double rate, start;
static long total;
static int use_tls;
static SSL_CTX *context;
static atomic_long next_ticket, connected, failed, sent;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void one_hello(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) { failed++; return; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // The port is chosen at connect(), by the whole 4-tuple: bind(port 0)
  // alone searches the ephemeral range, slower and slower as TIME_WAIT grows.
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&source, sizeof source) != 0 ||
      connect(fd, (struct sockaddr *)&target, sizeof target) != 0) {
    failed++;
    close(fd);
    return;
  }
  connected++;
  unsigned char hello[34] = {0x02, 0x00};
  getrandom(hello + 2, 32, 0);
  if (use_tls) {
    SSL *ssl = SSL_new(context);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) == 1 && SSL_write(ssl, hello, sizeof hello) == 34) {
      sent++;
    }
    SSL_free(ssl);
  } else if (write(fd, hello, sizeof hello) == 34) {
    sent++;
  }
  close(fd);
}

static void *flood(void *unused) {
  (void)unused;
  for (;;) {
    long ticket = next_ticket++;
    if (ticket >= total) return NULL;
    double due = start + ticket / rate - now();
    if (due > 0) {
      struct timespec pause = {(time_t)due, (long)((due - (time_t)due) * 1e9)};
      nanosleep(&pause, NULL);
    }
    one_hello();
  }
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s SRC DST PORT RATE SECONDS tcp|tls THREADS\n",
            argv[0]);
    return 2;
  }
  source.sin_family = target.sin_family = AF_INET;
  inet_pton(AF_INET, argv[1], &source.sin_addr);
  inet_pton(AF_INET, argv[2], &target.sin_addr);
  target.sin_port = htons(atoi(argv[3]));
  rate = atof(argv[4]);
  total = (long)(rate * atof(argv[5]));
  use_tls = strcmp(argv[6], "tls") == 0;
  int threads = atoi(argv[7]);
  if (use_tls) {
    context = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, NULL);
  }
  pthread_t *ids = calloc(threads, sizeof *ids);
  start = now();
  for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, flood, NULL);
  for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
  printf("{\"attempted\":%ld,\"connected\":%ld,\"sent\":%ld,\"failed\":%ld,"
         "\"seconds\":%.3f}\n",
         total, (long)connected, (long)sent, (long)failed, now() - start);
  return 0;
}
