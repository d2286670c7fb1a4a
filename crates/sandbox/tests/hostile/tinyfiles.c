/* Creates up to a million empty files; prints how many it made and why it stopped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    char name[64];
    int made = 0, err = 0;
    for (int i = 0; i < 1000000; i++) {
        snprintf(name, sizeof name, "/box/f%d", i);
        int fd = open(name, O_CREAT | O_WRONLY, 0644);
        if (fd < 0) { err = errno; break; }
        close(fd);
        made++;
    }
    printf("%d %s\n", made, err ? strerror(err) : "none");
    return 0;
}
