#!/usr/bin/env bash
# `make demo`: start the local stack, protect a freshly tagged bucket through the real
# workflow, show its status, run it again (nothing changes), stop the stack.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-4566}"
ENV_FILE="$(mktemp -t s3dr-demo-env.XXXXXX)"
LOG="target/demo-stack.log"
: > "$ENV_FILE"

.venv/bin/python local/stack.py --port "$PORT" --lambda-bin target/debug/s3-dr-lambda --env-file "$ENV_FILE" >"$LOG" 2>&1 &
STACK_PID=$!
stop_stack() {
  kill -INT "$STACK_PID" 2>/dev/null || true
  wait "$STACK_PID" 2>/dev/null || true
  rm -f "$ENV_FILE"
}
trap stop_stack EXIT

for _ in $(seq 1 150); do
  [ -s "$ENV_FILE" ] && break
  if ! kill -0 "$STACK_PID" 2>/dev/null; then
    echo "the local stack did not start (port $PORT taken? try PORT=4567 make demo); its log:" >&2
    tail -20 "$LOG" >&2
    exit 1
  fi
  sleep 0.2
done
[ -s "$ENV_FILE" ] || { echo "the local stack did not get ready in 30 s; see $LOG" >&2; exit 1; }
set -a; . "$ENV_FILE"; set +a

. "$(dirname "$0")/term.sh"
BUCKET="demo-photos-$(date +%s)"

step "Local stack on $AWS_ENDPOINT_URL: moto 5.2.5 running statemachine/*.asl.json, tasks served by target/debug/s3-dr-lambda"
step "1. A source bucket in us-west-2, tagged dr=true"
.venv/bin/python local/demo_seed.py "$BUCKET"

step "2. s3-dr plan $BUCKET   (a dry run: what protect would change; nothing is written)"
target/debug/s3-dr plan "$BUCKET"

step "3. s3-dr protect $BUCKET --wait   (DR region $S3DR_DR_REGION)"
target/debug/s3-dr protect "$BUCKET" --wait

step "4. s3-dr status $BUCKET"
target/debug/s3-dr status "$BUCKET"

step "5. The same again: every step converges, nothing changes"
target/debug/s3-dr protect "$BUCKET" --wait

step "6. The tag is removed: the sweep finds the leftover rule and starts a detach (data stays)"
.venv/bin/aws s3api put-bucket-tagging --bucket "$BUCKET" --tagging 'TagSet=[{Key=team,Value=media}]'
target/debug/s3-dr sweep --wait
sleep 3
target/debug/s3-dr status "$BUCKET"

step "Done; stopping the local stack (its log: $LOG)"
