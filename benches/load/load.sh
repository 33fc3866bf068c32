#!/usr/bin/env bash
# Page throughput under load, on SQLite and on PostgreSQL (issues #7, #16, #24; figures in BENCHMARKS.md).
#
#   benches/load/load.sh                 # both backends
#   benches/load/load.sh sqlite          # or: postgres
#   LOAD_ROWS="static link link_304" benches/load/load.sh sqlite    # only these rows
#
# For each backend: builds the release binary (once), seeds a fresh database with the demo clinic
# and 100,000 patients (`aftercare demo seed`, timed), serves it with `serve --no-worker` on a free
# loopback port, signs in as the demo practitioner with curl, and measures with wrk (32
# connections, 2 threads, 10 s each after a 2 s warm-up, --latency):
#
#   GET  /static/app.<hash>.css       a static asset (16 KB, from memory): the cost of a request
#                                     with no work of its own, the baseline of issue #24's targets
#   GET  /healthz                     one pooled database round trip
#   GET  /patients?q=patel            signed-in patient search (~5% of 100k patients match)
#   GET  /treatments/1/sheet          the staff's printable sheet
#   GET  /s/{token}                   the patient's own link (no account), also with If-None-Match
#                                     (304) and with Accept-Encoding: br, gzip
#   POST /treatments                  record a treatment (benches/load/post_treatment.lua; must be 303)
#   POST /treatments (4 connections)  the same with a handful of practitioners saving at once
#   GET  /patients?q=zzz              signed-in patient search, no match (worst case: every row read);
#                                     last, because requests it leaves queued in the server outlive wrk
#
# Between runs it waits until /healthz answers quickly again, so work queued by one run (the server
# finishes requests whose client has gone) does not spill into the next.
#
# and prints requests/s (also as a ratio to the static asset and to /healthz in the same run), p50
# and p99, as Markdown
# (also written to target/load/). Everything it starts it stops; every load run is bounded
# (wrk -d, and `timeout` around it); traffic goes to 127.0.0.1 only.
#
# Settings (environment, all optional):
#   LOAD_PATIENTS=100000  LOAD_DURATION=10  LOAD_WARMUP=2  LOAD_CONNECTIONS=32  LOAD_THREADS=2
#   LOAD_BIN=path/to/aftercare (an already built binary; default: build this tree's)
#   LOAD_SEARCH=patel     LOAD_POST_CONNECTIONS=4 (the second POST row)     LOAD_PG_URL=postgres://postgres@127.0.0.1:5432/postgres
#   LOAD_ROWS="static healthz search sheet link link_304 link_br post post_few search_none" (the rows
#   to run, in this order whatever the order given; default all)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

PATIENTS=${LOAD_PATIENTS:-100000}
DURATION=${LOAD_DURATION:-10}
WARMUP=${LOAD_WARMUP:-2}
CONNECTIONS=${LOAD_CONNECTIONS:-32}
THREADS=${LOAD_THREADS:-2}
SEARCH=${LOAD_SEARCH:-patel}
POST_FEW=${LOAD_POST_CONNECTIONS:-4}
PG_URL=${LOAD_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ALL_ROWS="static healthz search sheet link link_304 link_br post post_few search_none"
ROWS=" ${LOAD_ROWS:-$ALL_ROWS} "
EMAIL=practitioner@demo.example
PASSWORD="demo password 2026"
# LOAD_BIN: measure this binary instead of building the tree's (e.g. an earlier commit's, for a
# before/after comparison with the same tool).
BIN=${LOAD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/aftercare}
LUA=$ROOT/benches/load/post_treatment.lua

if [ "$#" -gt 0 ]; then BACKENDS=("$@"); else BACKENDS=(sqlite postgres); fi
for b in "${BACKENDS[@]}"; do
  case $b in sqlite | postgres) ;; *) echo "load.sh: unknown backend '$b' (sqlite or postgres)" >&2; exit 2 ;; esac
done

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'load.sh: %s\n' "$*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------------------------
need() { # need COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing $2 (for $1)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >/dev/null ||
      die "could not install $2 with apt-get; install '$1' and run again"
    command -v "$1" >/dev/null 2>&1 || die "$2 installed but '$1' is still not on PATH"
  else
    die "'$1' is needed (Debian package $2): install it, or run as root with apt-get available"
  fi
}
need wrk wrk
need curl curl
need timeout coreutils
for b in "${BACKENDS[@]}"; do [ "$b" = postgres ] && need psql postgresql-client; done

# --- state and clean-up ----------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aftercare-load.XXXXXX")
SERVER_PID=""
PG_DB=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
drop_pg() {
  if [ -n "$PG_DB" ]; then
    psql -q -X "$PG_URL" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
    PG_DB=""
  fi
}
cleanup() {
  stop_server
  drop_pg
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local p
  for p in $(seq 18300 18399); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port in 18300-18399"
}

# The value of the first `name="NAME" value="…"` (or `id="ID" … value="…"`) in a page, unescaped.
attr_value() { # attr_value 'name="csrf_token"' < page
  # (sed reads to the end: no early close, so no SIGPIPE for the writer under pipefail)
  { grep -o "$1[^>]*value=\"[^\"]*\"" || true; } | sed -n -e '1{s/.*value="//' -e 's/"$//' \
    -e 's/&#x2[fF];/\//g' -e 's/&#x3[dD];/=/g' -e 's/&#43;/+/g' -e 's/&#61;/=/g' -e 's/&amp;/\&/g' -e 'p}'
}

# The Cookie header for the cookies in a curl jar (HttpOnly ones are written `#HttpOnly_host`).
cookie_header() { # cookie_header JAR [NAME...]
  local jar=$1; shift
  awk -v want="$*" 'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) ok[w[i]] = 1 }
    { sub(/^#HttpOnly_/, "") } /^#/ || NF < 7 { next }
    (n == 0 || ($6 in ok)) { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$jar"
}

# Latency as wrk prints it (us, ms, s, m) in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (match(v, /^[0-9.]+/)) { n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1) } else { print "nan"; exit }
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
    if (f < 0) { print "nan"; exit } printf "%.3f", n * f }'
}

# --- build -----------------------------------------------------------------------------------------
if [ -z "${LOAD_BIN:-}" ]; then
  log "cargo build --release"
  build_start=$(date +%s)
  cargo build --release --quiet --bin aftercare
  log "built in $(($(date +%s) - build_start)) s"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

# --- one backend -------------------------------------------------------------------------------
declare -A RPS P50 P99 NOTE ERRS SEED_SECS SEED_LINE
ENDPOINTS=()
for key in $ALL_ROWS; do [[ $ROWS == *" $key "* ]] && ENDPOINTS+=("$key"); done
for key in $ROWS; do [[ " $ALL_ROWS " == *" $key "* ]] || die "LOAD_ROWS: unknown row '$key' (one of: $ALL_ROWS)"; done
[ "${#ENDPOINTS[@]}" -gt 0 ] || die "LOAD_ROWS names no row"
wanted() { [[ $ROWS == *" $1 "* ]]; }
declare -A LABEL=(
  [static]="GET /static/app.{hash}.css"
  [healthz]="GET /healthz"
  [search]="GET /patients?q=$SEARCH"
  [search_none]="GET /patients?q=zzz (no match)"
  [sheet]="GET /treatments/{id}/sheet"
  [link]="GET /s/{token}"
  [link_304]="GET /s/{token}, If-None-Match (304)"
  [link_br]="GET /s/{token}, Accept-Encoding: br, gzip"
  [post]="POST /treatments"
  [post_few]="POST /treatments ($POST_FEW connections)"
)

run_wrk() { # run_wrk BACKEND KEY URL [wrk args...]
  local backend=$1 key=$2 url=$3; shift 3
  local out=$WORK/wrk-$backend-$key.txt
  if [ "$WARMUP" -gt 0 ]; then
    timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 5s "$@" "$url" >/dev/null 2>&1 || true
  fi
  log "$backend: ${LABEL[$key]} for ${DURATION}s"
  timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency "$@" "$url" >"$out" 2>&1 ||
    die "wrk failed for ${LABEL[$key]} on $backend: $(tail -n 5 "$out")"
  local rps p50 p99 bad errors
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p50=$(awk '/^ +50%/ { print $2; exit }' "$out")
  p99=$(awk '/^ +99%/ { print $2; exit }' "$out")
  [ -n "$rps" ] && [ -n "$p50" ] && [ -n "$p99" ] || die "cannot read wrk's output for ${LABEL[$key]}: $(cat "$out")"
  RPS[$backend.$key]=$rps
  P50[$backend.$key]=$(to_ms "$p50")
  P99[$backend.$key]=$(to_ms "$p99")
  bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  errors=$(awk '/Socket errors:/ { sub(/.*Socket errors: /, ""); print }' "$out")
  local note="" count
  count=$(awk '/requests in/ { print $1; exit }' "$out")
  [ -n "$bad" ] && note="$bad non-2xx/3xx answers"
  [ -n "$errors" ] && note="${note:+$note; }socket errors: $errors"
  NOTE[$backend.$key]="$count requests${note:+; $note}"
  # Failed requests: non-2xx/3xx answers, and connect/read/write errors and timeouts (wrk leaves
  # these out of its latency figures, so a row with any of them cannot meet a latency target).
  ERRS[$backend.$key]=$(( ${bad:-0} + $(awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i; print n }' <<<"${errors:-}") ))
  log "$backend: ${LABEL[$key]}: $rps req/s, p50 $p50, p99 $p99${note:+ ($note)}"
}

# Waits (up to 90 s) until /healthz answers within 20 ms three times in a row.
settle() { # settle BASE
  local ok=0 t i
  for i in $(seq 450); do
    t=$(curl -sS -o /dev/null -w '%{time_total}' --max-time 5 "$1/healthz" 2>/dev/null || echo 9)
    if awk -v t="$t" 'BEGIN { exit !(t < 0.02) }'; then ok=$((ok + 1)); else ok=0; fi
    [ "$ok" -ge 3 ] && return 0
    sleep 0.2
  done
  log "warning: the server was still busy 90 s after the last run"
}

# A row LOAD_ROWS asks for: measured, then the server left to settle.
measure() { # measure BACKEND KEY URL [wrk args...]
  wanted "$2" || return 0
  run_wrk "$@"
  [[ $3 =~ ^https?://[^/]+ ]] && settle "${BASH_REMATCH[0]}"
}

status_of() { # status_of URL [curl args...]
  local url=$1; shift
  curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url"
}

run_backend() {
  local backend=$1 url
  case $backend in
    sqlite) url="sqlite://$WORK/load.db" ;;
    postgres)
      PG_DB="aftercare_bench_load_$$"
      psql -q -X "$PG_URL" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
      psql -q -X "$PG_URL" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null ||
        die "cannot create a database at $PG_URL (set LOAD_PG_URL)"
      url="${PG_URL%/*}/$PG_DB"
      ;;
  esac
  local port base mail_dir
  port=$(free_port)
  base="http://127.0.0.1:$port"
  mail_dir=$WORK/outbox-$backend
  export AFTERCARE_DATABASE_URL=$url AFTERCARE_BIND=127.0.0.1:$port AFTERCARE_MAIL_DIR=$mail_dir AFTERCARE_LOG=warn
  unset AFTERCARE_BASE_URL AFTERCARE_SMTP_URL AFTERCARE_SECRET_KEY AFTERCARE_PROTOCOL

  log "$backend: seeding $PATIENTS patients (aftercare demo seed)"
  local t0 t1
  t0=$(date +%s.%N)
  timeout 900 "$BIN" demo seed --patients "$PATIENTS" >"$WORK/seed-$backend.txt" 2>&1 ||
    die "the seed failed on $backend: $(tail -n 5 "$WORK/seed-$backend.txt")"
  t1=$(date +%s.%N)
  SEED_SECS[$backend]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  SEED_LINE[$backend]=$(head -n1 "$WORK/seed-$backend.txt")
  log "$backend: ${SEED_LINE[$backend]} (process wall time ${SEED_SECS[$backend]} s)"

  "$BIN" serve --no-worker >"$WORK/server-$backend.log" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 100); do
    [ "$(status_of "$base/healthz" 2>/dev/null || true)" = 200 ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited: $(tail -n 5 "$WORK/server-$backend.log")"
    sleep 0.2
    [ "$i" = 100 ] && die "the server did not answer /healthz within 20 s"
  done

  # Sign in as the demo practitioner, as a browser does.
  local jar=$WORK/cookies-$backend.txt token code
  rm -f "$jar"
  token=$(curl -fsS -c "$jar" -b "$jar" "$base/login" | attr_value 'name="csrf_token"')
  [ -n "$token" ] || die "no CSRF token on /login"
  code=$(status_of "$base/login" -c "$jar" -b "$jar" --data-urlencode "email=$EMAIL" \
    --data-urlencode "password=$PASSWORD" --data-urlencode "csrf_token=$token")
  [ "$code" = 303 ] || die "signing in as $EMAIL answered $code, not 303"
  local cookie csrf_cookie
  cookie=$(cookie_header "$jar" aftercare_session aftercare_csrf)
  csrf_cookie=$(cookie_header "$jar" aftercare_csrf)
  [[ $cookie == *aftercare_session=* && $cookie == *aftercare_csrf=* ]] || die "signed in, but the cookie jar lacks the session or CSRF cookie"

  # A treatment (ids start at 1 after seeding), its patient link, and a form token.
  local treatment=1 page link link_path form_token
  page=$(curl -fsS -H "Cookie: $cookie" "$base/treatments/$treatment") || die "GET /treatments/$treatment failed"
  link=$(attr_value 'id="patient-link"' <<<"$page")
  [ -n "$link" ] || die "no patient link on /treatments/$treatment"
  link_path="/${link#*://*/}"
  form_token=$(curl -fsS -H "Cookie: $cookie" "$base/patients?q=$SEARCH" | attr_value 'name="csrf_token"')
  [ -n "$form_token" ] || die "no CSRF token on the signed-in search page"
  local treated_at
  treated_at=$(TZ=Europe/London date -d '-1 hour' +%Y-%m-%dT%H:%M)

  # Every page answers 200 before we measure it, and still does after.
  check() {
    local c u
    for u in "/patients?q=$SEARCH" "/patients?q=zzz" "/treatments/$treatment/sheet"; do
      c=$(status_of "$base$u" -H "Cookie: $cookie")
      [ "$c" = 200 ] || die "$backend: GET $u answered $c $1"
    done
    c=$(status_of "$base$link_path" -H "Cookie: $csrf_cookie")
    [ "$c" = 200 ] || die "$backend: GET $link_path answered $c $1"
  }
  check "before the runs"

  # The stylesheet every page links to, by its fingerprinted name as a browser asks for it.
  local static_path
  static_path=$(curl -fsS "$base/login" | { grep -o '/static/app\.[0-9a-f]*\.css' || true; } | sed -n 1p)
  [ -n "$static_path" ] || die "$backend: no stylesheet link on /login"
  [ "$(status_of "$base$static_path")" = 200 ] || die "$backend: GET $static_path did not answer 200"

  measure "$backend" static "$base$static_path" -H "Cookie: $csrf_cookie"
  measure "$backend" healthz "$base/healthz" -H "Cookie: $csrf_cookie"
  measure "$backend" search "$base/patients?q=$SEARCH" -H "Cookie: $cookie"
  measure "$backend" sheet "$base/treatments/$treatment/sheet" -H "Cookie: $cookie"
  measure "$backend" link "$base$link_path" -H "Cookie: $csrf_cookie"
  # The browser's second visit: its copy is current, so 304 and no body (the view is still audited).
  local etag size_plain size_br size_gzip
  etag=$(curl -fsS -D - -o /dev/null "$base$link_path" | awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }')
  [ -n "$etag" ] || die "$backend: no ETag on the patient link"
  [ "$(status_of "$base$link_path" -H "If-None-Match: $etag")" = 304 ] || die "$backend: If-None-Match did not answer 304"
  measure "$backend" link_304 "$base$link_path" -H "Cookie: $csrf_cookie" -H "If-None-Match: $etag"
  # What a browser asks for: compressed.
  if wanted link_br; then
    measure "$backend" link_br "$base$link_path" -H "Cookie: $csrf_cookie" -H "Accept-Encoding: br, gzip"
    size_plain=$(curl -fsS -o /dev/null -w '%{size_download}' "$base$link_path")
    size_br=$(curl -fsS -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: br' "$base$link_path")
    size_gzip=$(curl -fsS -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "$base$link_path")
    NOTE[$backend.link_br]="${NOTE[$backend.link_br]:+${NOTE[$backend.link_br]}; }transfer: $size_br B brotli, $size_gzip B gzip, $size_plain B plain"
  fi
  LOAD_COOKIE=$cookie LOAD_CSRF=$form_token LOAD_TREATED_AT=$treated_at LOAD_PATIENTS=$PATIENTS \
    measure "$backend" post "$base/treatments" -s "$LUA"
  # The same with a handful of practitioners saving at once, a busy clinic's real load.
  CONNECTIONS=$POST_FEW THREADS=$((POST_FEW < THREADS ? POST_FEW : THREADS)) \
    LOAD_COOKIE=$cookie LOAD_CSRF=$form_token LOAD_TREATED_AT=$treated_at LOAD_PATIENTS=$PATIENTS \
    measure "$backend" post_few "$base/treatments" -s "$LUA"
  measure "$backend" search_none "$base/patients?q=zzz" -H "Cookie: $cookie"
  local statuses key
  for key in post post_few; do
    wanted "$key" || continue
    statuses=$(awk '/^statuses:/ { sub(/^statuses: */, ""); print }' "$WORK/wrk-$backend-$key.txt")
    [[ $statuses =~ ^303=[0-9]+$ ]] || die "$backend: ${LABEL[$key]} answered other than 303: '$statuses'"
    NOTE[$backend.$key]="${NOTE[$backend.$key]:+${NOTE[$backend.$key]}; }all ${statuses#303=} answers 303"
  done
  check "after the runs"

  stop_server
  drop_pg
}

for backend in "${BACKENDS[@]}"; do
  run_backend "$backend"
done

# --- report ----------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "–" }'; }
ms() { awk -v v="$1" 'BEGIN { if (v <= 0 || v != v + 0) print "n/a"; else if (v < 10) printf "%.2f ms", v; else printf "%.1f ms", v }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
# The issue's target for a row, and whether this run met it. The patient link's are issue #24's,
# against the static asset; the staff sheet's issue #16's, against /healthz.
target() { # target BACKEND KEY
  local b=$1 k=$2 p base
  p=${P99[$b.$k]}
  if [ "$k" != healthz ] && [ "$k" != static ] && [ "${ERRS[$b.$k]}" -gt 0 ]; then
    echo "**missed** (${ERRS[$b.$k]} failed requests)"
    return
  fi
  at_least() { # at_least RATIO BASE-KEY: this row's req/s is at least RATIO × BASE-KEY's
    local r
    r=$(ratio "${RPS[$b.$k]}" "${RPS[$b.$2]:-0}")
    awk -v r="$r" -v want="$1" 'BEGIN { exit !(r != "–" && r + 0 >= want) }'
  }
  case $k in
    sheet)
      if at_least 0.5 healthz && lt "$p" 10; then echo "met (≥ 0.5× /healthz req/s, p99 < 10 ms)"
      else echo "**missed** (≥ 0.5× /healthz req/s, p99 < 10 ms)"; fi ;;
    link | link_br)
      base="≥ 0.5× static req/s, p99 < 10 ms"
      if [ -z "${RPS[$b.static]:-}" ]; then echo "($base: no static row)"
      elif at_least 0.5 static && lt "$p" 10; then echo "met ($base)"
      else echo "**missed** ($base)"; fi ;;
    link_304)
      base="≥ 0.8× static req/s, p99 < 10 ms"
      if [ -z "${RPS[$b.static]:-}" ]; then echo "($base: no static row)"
      elif at_least 0.8 static && lt "$p" 10; then echo "met ($base)"
      else echo "**missed** ($base)"; fi ;;
    search | search_none)
      if lt "$p" 50; then echo "met (p99 < 50 ms)"; else echo "**missed** (p99 < 50 ms)"; fi ;;
    post | post_few)
      if [ "$b" = sqlite ]; then
        if lt "$p" 20; then echo "met (p99 < 20 ms)"; else echo "**missed** (p99 < 20 ms)"; fi
      else echo "(none on PostgreSQL)"; fi ;;
    *) echo "baseline" ;;
  esac
}

REPORT=$WORK/report.md
{
  echo "Load: $CONNECTIONS connections (the second POST row: $POST_FEW), $THREADS wrk threads, ${DURATION} s per row after a ${WARMUP} s warm-up; $PATIENTS seeded patients;"
  echo "$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); $(date -u +%Y-%m-%dT%H:%MZ); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src templates 2>/dev/null || echo ' (+ uncommitted changes in src/ or templates/)')."
  echo
  echo "| backend | endpoint | req/s | × static | × /healthz | p50 | p99 | target | notes |"
  echo "|---|---|---:|---:|---:|---:|---:|---|---|"
  for b in "${BACKENDS[@]}"; do
    for k in "${ENDPOINTS[@]}"; do
      printf '| %s | `%s` | %.0f | %s | %s | %s | %s | %s | %s |\n' "$b" "${LABEL[$k]}" "${RPS[$b.$k]}" \
        "$(ratio "${RPS[$b.$k]}" "${RPS[$b.static]:-0}")" "$(ratio "${RPS[$b.$k]}" "${RPS[$b.healthz]:-0}")" \
        "$(ms "${P50[$b.$k]}")" "$(ms "${P99[$b.$k]}")" \
        "$(target "$b" "$k")" "${NOTE[$b.$k]}"
    done
  done
  echo
  for b in "${BACKENDS[@]}"; do
    echo "- Seeding $b: ${SEED_LINE[$b]} (the whole \`demo seed\` process, migrations included: ${SEED_SECS[$b]} s)."
  done
} >"$REPORT"

mkdir -p "$ROOT/target/load"
saved=$ROOT/target/load/load-$(date -u +%Y%m%dT%H%M%SZ).md
cp "$REPORT" "$saved"
echo
cat "$REPORT"
echo
log "report saved to ${saved#"$ROOT"/}"
