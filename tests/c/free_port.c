/* Prints a free TCP port on 127.0.0.1 (bind port 0, read it, close), for the shell tests
 * that start ranks with COLL_ROOT_ADDR. */
#define _POSIX_C_SOURCE 200112L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 1;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr*)&addr, sizeof(addr)) != 0 ||
      getsockname(fd, (struct sockaddr*)&addr, &len) != 0) {
    close(fd);
    return 1;
  }
  printf("%d\n", ntohs(addr.sin_port));
  close(fd);
  return 0;
}
