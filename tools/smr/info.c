/* info.c - smr info: the build, the BLAS, the threads and the ISAs. */
#include "cli.h"

/* ------------------------------------------------------------------------ */
/* smr info                                                                  */
/* ------------------------------------------------------------------------ */

void help_info(FILE *f) {
  fputs(
    "Usage: smr info\n"
    "\n"
    "Prints the version, whether gzip input is supported, the BLAS that runs\n"
    "the trainer's matrix products (or none), the instruction sets compiled\n"
    "in and available on this CPU, the active one, and what became of the\n"
    "SMR_ISA environment variable (scalar|avx2|avx512|neon).\n"
    "\n"
    "  -h, --help                 this help\n",
    f);
}


/* Prints an environment value with control characters escaped. */
static void put_sanitized(const char *s) {
  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch < 0x20 || ch == 0x7f) printf("\\x%02x", ch);
    else putchar(ch);
  }
}

int cmd_info(int argc, char **argv) {
  args a = {{NULL}, 0};
  int c;
  while ((c = getopt_long(argc, argv, short_opts_plain, plain_opts, NULL)) != -1) {
    int r = common_opt(c, argv, plain_opts, &a);
    if (r > 0) return r;
    if (r == 0) continue;
    if (c == 'h') { help_info(stdout); return finish_stdout(); }
    return usage_fail("internal error: unhandled option");
  }
  if (rest_positionals(argc, argv, &a) != 0) return EXIT_USAGE;
  if (a.npos != 0) return usage_fail("unexpected argument '%s'", a.pos[0]);

  smr_isa active = smr_isa_active(); /* first use: reads SMR_ISA */
  smr_status env = smr_isa_env_status();
  printf("smr %s\n", smr_version());
  printf("zlib: %s\n", smr_has_zlib() ? "yes" : "no");
  printf("blas: %s\n", smr_blas_info());
  printf("threads: %zu\n", smr_num_threads());
  printf("isa      compiled  available\n");
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    smr_isa isa = (smr_isa)i;
    printf("%-8s %-9s %s\n", smr_isa_name(isa), smr_isa_compiled(isa) ? "yes" : "no",
           smr_isa_available(isa) ? "yes" : "no");
  }
  printf("active: %s\n", smr_isa_name(active));
  const char *v = getenv("SMR_ISA");
  fputs("SMR_ISA: ", stdout);
  if (v == NULL || v[0] == '\0') {
    printf("%s (best available ISA)\n", v == NULL ? "unset" : "empty");
  } else {
    putchar('"');
    put_sanitized(v);
    putchar('"');
    if (env == SMR_OK) printf(" honoured\n");
    else if (env == SMR_EINVAL) printf(" is not a known ISA name, using %s\n", smr_isa_name(active));
    else if (env == SMR_EUNSUPPORTED) printf(" is not available here, using %s\n", smr_isa_name(active));
    else printf(" (%s), using %s\n", smr_strerror(env), smr_isa_name(active));
  }
  return finish_stdout();
}
