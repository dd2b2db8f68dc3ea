/*
 * A load generator on libgearman's client API, the peer of gearman-client in
 * benches/benches/client.rs. Usage:
 *   libgearman_client HOST PORT FUNCTION seq|window|background COUNT WINDOW
 * Runs COUNT jobs with 100-byte workloads: one at a time (seq), in batches of WINDOW foreground
 * tasks (window), or in batches of WINDOW background submissions (background); prints the
 * seconds it took on stdout.
 */
#include <libgearman-1.0/gearman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fail(const char *what, gearman_client_st *c) {
  fprintf(stderr, "%s: %s\n", what, gearman_client_error(c));
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s HOST PORT FUNCTION seq|window|background COUNT WINDOW\n", argv[0]);
    return 2;
  }
  const char *host = argv[1], *function = argv[3], *mode = argv[4];
  in_port_t port = (in_port_t)atoi(argv[2]);
  long count = atol(argv[5]), window = atol(argv[6]);
  char payload[100];
  memset(payload, 'x', sizeof payload);

  gearman_client_st *client = gearman_client_create(NULL);
  if (client == NULL || gearman_client_add_server(client, host, port) != GEARMAN_SUCCESS) {
    return fail("connect", client);
  }
  double start = seconds();
  if (strcmp(mode, "seq") == 0) {
    for (long i = 0; i < count; i++) {
      size_t size;
      gearman_return_t rc;
      void *result = gearman_client_do(client, function, NULL, payload, sizeof payload, &size, &rc);
      if (rc != GEARMAN_SUCCESS) {
        return fail("do", client);
      }
      free(result);
    }
  } else {
    int background = strcmp(mode, "background") == 0;
    for (long done = 0; done < count; done += window) {
      long batch = count - done < window ? count - done : window;
      for (long j = 0; j < batch; j++) {
        gearman_return_t rc;
        gearman_task_st *task =
            background ? gearman_client_add_task_background(client, NULL, NULL, function, NULL,
                                                            payload, sizeof payload, &rc)
                       : gearman_client_add_task(client, NULL, NULL, function, NULL, payload,
                                                 sizeof payload, &rc);
        if (task == NULL || rc != GEARMAN_SUCCESS) {
          return fail("add task", client);
        }
      }
      if (gearman_client_run_tasks(client) != GEARMAN_SUCCESS) {
        return fail("run tasks", client);
      }
      gearman_client_task_free_all(client);
    }
  }
  printf("%.9f\n", seconds() - start);
  gearman_client_free(client);
  return 0;
}
