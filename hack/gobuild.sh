# Sourced by the build scripts. gobuild LABEL OUT PKG [go build flags...]
# runs `go build -v` in the working directory and prints to stderr, every
# 20 seconds, how many packages are compiled out of the program's
# packages, so a first build that takes many minutes is never silent.
# The compiler's messages are shown if the build fails.
gobuild() {
  local label="$1" out="$2" pkg="$3"
  shift 3
  local log total n start=$SECONDS
  log="$(mktemp)"
  total="$(go list -deps "$pkg" 2>/dev/null | wc -l)"
  go build -v "$@" -o "$out" "$pkg" 2>"$log" &
  local pid=$! tick=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    tick=$((tick + 1))
    if ((tick % 20 == 0)); then
      # go build -v names each package it compiles on a line of its own.
      n="$(grep -cv '[ #]' "$log" || true)"
      echo "$label: $n of at most $total packages compiled, $((SECONDS - start))s" >&2
    fi
  done
  local rc=0
  wait "$pid" || rc=$?
  if ((rc != 0)); then
    grep '[ #]' "$log" >&2 || true
    rm -f "$log"
    return "$rc"
  fi
  rm -f "$log"
}
