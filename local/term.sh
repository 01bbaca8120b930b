# Sourced by the local scripts: a section heading, bold only on a terminal and without NO_COLOR
# (https://no-color.org): piped into a log or CI, no escape codes.
step() {
  if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    printf '\n\033[1m== %s\033[0m\n' "$*"
  else
    printf '\n== %s\n' "$*"
  fi
}
