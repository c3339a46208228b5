/* Replays fuzz inputs without libFuzzer: each argument is a file or a
 * directory of files, fed to LLVMFuzzerTestOneInput one by one. A crash or
 * a sanitizer report fails the run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  long size;

  if (!f) {
    perror(path);
    return -1;
  }
  if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) < 0) {
    perror(path);
    fclose(f);
    return -1;
  }
  buf = malloc(size ? size : 1);
  if (!buf || fread(buf, 1, size, f) != (size_t)size) {
    perror(path);
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, size);
  free(buf);
  return 0;
}

int main(int argc, char **argv)
{
  int i, count = 0;

  for (i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) < 0) {
      perror(argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR *dir = opendir(argv[i]);
      struct dirent *e;
      if (!dir) {
        perror(argv[i]);
        return 1;
      }
      while ((e = readdir(dir))) {
        char path[4096];
        if (e->d_name[0] == '.')
          continue;
        snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
        if (replay_file(path) < 0)
          return 1;
        count++;
      }
      closedir(dir);
    } else {
      if (replay_file(argv[i]) < 0)
        return 1;
      count++;
    }
  }
  printf("replayed %d inputs\n", count);
  return 0;
}
