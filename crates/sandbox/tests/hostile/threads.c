/* Two threads each burn 300 ms of their own CPU time, then the program exits. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
static void *burn(void *arg) {
    (void)arg;
    struct timespec ts;
    volatile unsigned long n = 0;
    do {
        for (int i = 0; i < 100000; i++) n++;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    } while (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < 300);
    return NULL;
}
int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, burn, NULL);
    pthread_create(&b, NULL, burn, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    puts("done");
    return 0;
}
