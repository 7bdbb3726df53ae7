/*
 * smr.c - the command-line tool's main: the command table and the top-level
 * help. Every command is a file of this folder (cli.h says which); the
 * tool uses only the public API in smr.h.
 */
#include "cli.h"

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static void help_main(FILE *f) {
  fprintf(f,
    "Usage: smr COMMAND [options]\n"
    "\n"
    "Softmax regression (multinomial logistic regression) from the command line.\n"
    "\n"
    "Commands:\n"
    "  train DATA.csv -o MODEL    train a model (see 'smr train --help')\n"
    "  predict MODEL DATA.csv     predicted classes, or --proba probabilities\n"
    "  eval MODEL DATA.csv        accuracy, log-loss and confusion matrix\n"
    "  demo                       train and evaluate on the embedded Iris data\n"
    "  bench                      kernel throughput per instruction set (seconds)\n"
    "  info                       version, instruction sets, SMR_ISA\n"
    "  help [COMMAND]             this help, or a command's\n"
    "\n"
    "Options:\n"
    "  -h, --help                 this help\n"
    "      --version              print the version\n"
    "\n"
    "Environment: SMR_ISA=scalar|avx2|avx512|neon selects the kernels;\n"
    "SMR_NUM_THREADS=N the threads of training and of the BLAS (default 1).\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n");
}

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  void (*help)(FILE *f);
} command;

static const command commands[] = {
  {"train", cmd_train, help_train},
  {"predict", cmd_predict, help_predict},
  {"eval", cmd_eval, help_eval},
  {"demo", cmd_demo, help_demo},
  {"bench", cmd_bench, help_bench},
  {"info", cmd_info, help_info},
};

static const command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("smr: missing command\n\n", stderr);
    help_main(stderr);
    return EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    help_main(stdout);
    return finish_stdout();
  }
  if (strcmp(name, "--version") == 0) {
    printf("smr %s\n", smr_version());
    return finish_stdout();
  }
  if (strcmp(name, "help") == 0) {
    if (argc == 2) { help_main(stdout); return finish_stdout(); }
    const command *cmd = find_command(argv[2]);
    if (argc > 3) return usage_fail("help takes one COMMAND, got %d arguments", argc - 2);
    if (cmd == NULL) return usage_fail("unknown command '%s'", argv[2]);
    cmd->help(stdout);
    return finish_stdout();
  }
  const command *cmd = find_command(name);
  if (cmd == NULL) {
    if (name[0] == '-') return usage_fail("unknown option '%s'", name);
    return usage_fail("unknown command '%s'", name);
  }
  g_cmd = cmd->name;
  opterr = 0;
  optind = 1;
  return cmd->run(argc - 1, argv + 1);
}
