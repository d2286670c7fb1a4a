/* Forks without end: every child forks again. The pids cgroup must hold it. */
#include <unistd.h>
int main(void) {
    for (;;) fork();
}
