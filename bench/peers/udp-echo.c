/* A UDP echo in C answering each request with a fixed 15-octet BACnet Complex-ACK: the kernel's and
   the VM's per-datagram cost with no runtime. Args: PORT (0 = any); prints the port. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(argc > 1 ? atoi(argv[1]) : 0);
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
  socklen_t l = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &l);
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  unsigned char buf[1500], reply[15] = {0x81, 0x0a, 0, 15, 0x01, 0x00, 0x30, 0, 0x0c, 0x0c, 0x02, 0, 0, 1, 0x19};
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n < 0) continue;
    reply[7] = n > 8 ? buf[8] : 0;
    sendto(s, reply, sizeof reply, 0, (struct sockaddr *)&from, fl);
  }
}
