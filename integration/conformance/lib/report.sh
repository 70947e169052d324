# report.sh: the side-by-side table and the known-failures check. Sourced by run.sh.
#
# known-failures file format, one test per line, "#" starts a comment:
#   TEST   CAUSE
# A CAUSE starting "[flaky]" (a race) or "[host-dependent]" (passes when
# the harness sets the host up, e.g. hugetlb for crun) means the test may
# pass or fail; its pass is then not reported as unexpected.
# Only gocker's file decides the exit status; the anchors' files
# (known-failures-runc.txt, ...) document what this host blocks.

known_file() {
  if [ "$1" = gocker ]; then echo "$HERE/known-failures.txt"; else echo "$HERE/known-failures-$1.txt"; fi
}

# known_cause FILE TEST prints the recorded cause, or nothing.
known_cause() {
  [ -f "$1" ] || return 0
  awk -v t="$2" '!/^[[:space:]]*(#|$)/ && $1 == t { $1 = ""; sub(/^[[:space:]]+/, ""); print; exit }' "$1"
}

# cell NAME TEST prints the table cell: PASS, FAIL, FAIL(known), PASS(unexpected).
cell() {
  local v kf cause
  v=$(cut -d' ' -f1 "$WORK/results/$1/$2.verdict")
  kf=$(known_file "$1")
  cause=$(known_cause "$kf" "$2")
  if [ -z "$cause" ]; then echo "$v"
  elif [ "$v" = FAIL ]; then echo "FAIL(known)"
  elif [[ "$cause" == "[flaky]"* || "$cause" == "[host-dependent]"* ]]; then echo "PASS(may-fail)"
  else echo "PASS(unexpected)"; fi
}

report() {
  local names=() tests=() a
  while [ $# -gt 0 ] && [ "$1" != -- ]; do names+=("$1"); shift; done
  shift
  tests=("$@")
  local n t c line status=0
  echo
  line=$(printf '%-34s' test)
  for n in "${names[@]}"; do line+=$(printf ' %-17s' "$n"); done
  echo "$line"
  for t in "${tests[@]}"; do
    line=$(printf '%-34s' "$t")
    for n in "${names[@]}"; do line+=$(printf ' %-17s' "$(cell "$n" "$t")"); done
    echo "$line"
  done
  line=$(printf '%-34s' "passed (wall seconds)")
  for n in "${names[@]}"; do
    a=$(cat "$WORK/results/$n"/*.verdict | grep -c '^PASS')
    line+=$(printf ' %-17s' "$a/${#tests[@]} ($(cat "$WORK/results/$n/.seconds")s)")
  done
  echo "$line"

  for n in "${names[@]}"; do
    local kf unexpected=() uxpass=()
    kf=$(known_file "$n")
    echo
    echo "$n failures (logs: $WORK/results/$n/TEST.{out,err}):"
    for t in "${tests[@]}"; do
      c=$(cell "$n" "$t")
      case "$c" in
        FAIL) unexpected+=("$t"); echo "  $t: $(cut -d' ' -f2- "$WORK/results/$n/$t.verdict")" ;;
        "FAIL(known)") echo "  $t: $(cut -d' ' -f2- "$WORK/results/$n/$t.verdict" | cut -c1-90) [known: $(known_cause "$kf" "$t" | cut -c1-80)]" ;;
        "PASS(unexpected)") uxpass+=("$t") ;;
      esac
    done
    [ ${#uxpass[@]} -gt 0 ] && echo "  unexpected pass (listed in $(basename "$kf") but passed): ${uxpass[*]}"
    if [ ${#unexpected[@]} -gt 0 ]; then
      echo "  NOT in $(basename "$kf"): ${unexpected[*]}"
      [ "$n" = gocker ] && status=1
    fi
  done

  n=${names[0]}
  a=$(cat "$WORK/results/$n"/*.verdict | grep -c '^PASS')
  echo
  echo "$a passed, $((${#tests[@]} - a)) failed"
  return $status
}
