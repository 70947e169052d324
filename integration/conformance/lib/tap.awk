# tap.awk: strict verdict on the stdout of one runtime-tools validation program.
# Prints "PASS <detail>" or "FAIL <reason>" on one line. Usage:
#   awk -v rc=EXITCODE [-v quiet_ok=1] -f tap.awk STDOUT_FILE
#
# Strict rules (runtime-tools prints TAP 13 through mndrix/tap-go):
#  - A non-zero exit is a failure; 124/137 come from timeout(1).
#  - "not ok N" anywhere is a failure, even inside a YAML diagnostic: the
#    in-container runtimetest output is embedded as a JSON string there.
#  - "Bail out!" is a failure.
#  - A program may print several TAP streams, each starting "TAP version 13";
#    each must carry exactly one plan "1..N" and N must equal its test points.
#  - Hook tests (prestart, poststart, hooks, ...) print no test point and
#    report a failure only as a YAML block with an "error" key. So a YAML
#    block with an "error" key that does not directly follow a test point is a
#    failure. (After a test point, possibly past continuation lines, an "error" diagnostic is how tests that
#    expect the runtime to fail show what it said; the point decides.)
#  - A program that prints nothing and exits 0 passes only when quiet_ok=1:
#    process_rlimits_fail and process_capabilities_fail succeed exactly when
#    the runtime refuses the config, and then print nothing. Any other
#    program printing nothing means runtimetest's TAP never came out of the
#    container (its stdout is the program's stdout): a failure.
function newstream() {
  if (nstreams > 0) closestream()
  nstreams++; points = 0; plan = -1; nplans = 0; last = ""
}
function closestream() {
  if (nplans == 0 && points > 0) fail("stream " nstreams ": no plan")
  else if (nplans > 1) fail("stream " nstreams ": " nplans " plans")
  else if (nplans == 1 && plan != points) fail("stream " nstreams ": plan 1.." plan " but " points " test points")
}
function fail(why) { if (reason == "") reason = why }
BEGIN { nstreams = 0; reason = ""; inyaml = 0; lines = 0; total = 0 }
{ lines++ }
/(^|[^[:alnum:]_])not ok [0-9]/ { if (!inyaml) { sub(/^not ok [0-9]+ *-? */, ""); fail("not ok: " $0) } else fail("not ok inside a diagnostic") }
/^Bail out!/ { fail("bail out: " $0) }
inyaml {
  if ($0 ~ /^[[:space:]]+\.\.\.[[:space:]]*$/) { inyaml = 0; next }
  if (!yamlafterpoint && $0 ~ /^[[:space:]]*"?error"?[[:space:]]*:/) {
    line = $0; sub(/^[[:space:]]*"?error"?[[:space:]]*:[[:space:]]*/, "", line)
    fail("error diagnostic: " substr(line, 1, 160))
  }
  next
}
/^TAP version / { newstream(); next }
/^[[:space:]]+---[[:space:]]*$/ { inyaml = 1; yamlafterpoint = (last == "point"); last = "yaml"; next }
# Other lines (a description continued over several lines, stray prints)
# leave "last" alone: they do not detach a diagnostic from its test point.
/^(not )?ok([[:space:]]|$)/ { if (nstreams == 0) newstream(); points++; total++; last = "point"; next }
/^1\.\.[0-9]+/ { if (nstreams == 0) newstream(); nplans++; plan = substr($0, 4) + 0; last = "plan"; next }
END {
  if (inyaml) fail("unterminated YAML block")
  if (nstreams > 0) closestream()
  if (rc == 124 || rc == 137) fail("timeout")
  else if (rc != 0) fail("exit status " rc)
  if (reason != "") { gsub(/[\t\r]/, " ", reason); print "FAIL " reason }
  else if (lines == 0 && quiet_ok == 1) print "PASS (no output, exit 0)"
  else if (lines == 0) print "FAIL no TAP output (exit 0)"
  else print "PASS " total " test points in " nstreams " stream(s)"
}
