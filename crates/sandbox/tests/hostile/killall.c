/* Sends SIGKILL to every process it may signal, then reports it is still here. */
#include <signal.h>
#include <stdio.h>
int main(void) {
    int r = kill(-1, SIGKILL);
    printf("kill(-1)=%d\n", r);
    return 0;
}
