#!/bin/sh
# make image-test: build the image, run it from docker-compose.yml with its PostgreSQL and
# Prometheus, wait for the healthcheck, sign one call into it, check Prometheus scrapes it and
# loaded the rules, then stop it with SIGTERM and check it exits 0 within the grace.
# Fails naming the step. Needs a Docker engine and docker-compose (v1) or `docker compose`.
set -eu
cd "$(dirname "$0")/.."
PROJECT=ivrimagetest
PORT=${IMAGE_TEST_PORT:-18080}
GRACE=${IMAGE_TEST_GRACE:-20}
WORK=$(mktemp -d)
ENV_FILE=$WORK/env
STEP=start
fail() { echo "image-test FAILED at step '$STEP': $*" >&2; exit 1; }
step() { STEP=$1; echo "image-test: $1"; }
if docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"; else COMPOSE=docker-compose; fi
TOKEN=image-test-auth-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
cat > "$ENV_FILE" <<EOF
POSTGRES_PASSWORD=image-test-db-password
IVR_PUBLIC_URL=https://ivr.image-test.example
TWILIO_AUTH_TOKEN=$TOKEN
TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
IVR_ADMIN_TOKEN=image-test-admin-token-0123456789
IVR_HASH_KEY=image-test-hash-key-0123456789abcdef0123456789
GRAFANA_ADMIN_PASSWORD=unused-grafana-is-not-started
IVR_PUBLISHED_PORT=$PORT
EOF
compose() { $COMPOSE -p "$PROJECT" --env-file "$ENV_FILE" -f docker-compose.yml "$@"; }
cleanup() {
    compose logs --no-color ivr > "$WORK/ivr.log" 2>&1 || true
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    if [ "$STEP" != done ]; then echo "--- app log (last 30 lines)"; tail -30 "$WORK/ivr.log"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

step "base images"
sh tools/image-test-bases.sh || fail "could not make the base images"
step "build"
# Tagged as both compose versions name the service's image, so `up --no-build` finds it.
docker build --network host -t "${PROJECT}_ivr" -t "${PROJECT}-ivr" . >"$WORK/build.log" 2>&1 \
    || { tail -20 "$WORK/build.log"; fail "docker build"; }
step "up (postgres, ivr, prometheus)"
compose up -d --no-build postgres ivr prometheus || fail "compose up"
IVR=$(compose ps -q ivr)
[ -n "$IVR" ] || fail "no ivr container"

step "healthcheck"
i=0
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$IVR")" = healthy ]; do
    i=$((i + 1)); [ $i -le 120 ] || fail "not healthy after 240 s"
    [ "$(docker inspect -f '{{.State.Running}}' "$IVR")" = true ] || fail "the app exited"
    sleep 2
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "/healthz on the published port"

step "signed call"
# Signed inside the image with its own twilio library, posted to the published port.
SIG=$(docker exec -e TOKEN="$TOKEN" "$IVR" python -c '
import os
from twilio.request_validator import RequestValidator
params = {"CallSid": "CA" + "5" * 32, "AccountSid": "AC" + "0" * 32, "From": "+33477921035",
          "To": "+33477481234", "CallStatus": "ringing", "Direction": "inbound"}
print(RequestValidator(os.environ["TOKEN"]).compute_signature(
    "https://ivr.image-test.example/twilio/voice", params))')
curl -sS -o "$WORK/twiml.xml" -w '%{http_code} %{content_type}\n' \
    -H "X-Twilio-Signature: $SIG" --data-urlencode "CallSid=CA55555555555555555555555555555555" \
    --data-urlencode "AccountSid=AC00000000000000000000000000000000" \
    --data-urlencode "From=+33477921035" --data-urlencode "To=+33477481234" \
    --data-urlencode "CallStatus=ringing" --data-urlencode "Direction=inbound" \
    "http://127.0.0.1:$PORT/twilio/voice" > "$WORK/answer" || fail "POST /twilio/voice"
read -r CODE TYPE < "$WORK/answer"
[ "$CODE" = 200 ] || fail "signed call answered HTTP $CODE"
python3 - "$WORK/twiml.xml" "$TYPE" <<'PY' || fail "the answer is not TwiML"
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert sys.argv[2].startswith(("application/xml", "text/xml")), sys.argv[2]
assert root.tag == "Response" and len(root) > 0, ET.tostring(root)
print("image-test: TwiML", [child.tag for child in root])
PY
curl -sS -o /dev/null -w '%{http_code}' -X POST -d "CallSid=x" \
    "http://127.0.0.1:$PORT/twilio/voice" | grep -qx 403 || fail "unsigned call not refused"

step "prometheus scrapes the app and loaded the rules"
i=0
until curl -fsS http://127.0.0.1:9090/api/v1/targets 2>/dev/null | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if any(t["labels"].get("job") == "ivr" and t["health"] == "up" for t in targets) else 1)'
do
    i=$((i + 1)); [ $i -le 60 ] || fail "no ivr target up after 120 s"
    sleep 2
done
curl -fsS http://127.0.0.1:9090/api/v1/rules | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r["name"] for g in groups for r in g["rules"]]
assert rules, "no rules loaded"
bad = [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"]
assert not bad, bad
print(f"image-test: {len(groups)} rule groups, {len(rules)} rules loaded")' \
    || fail "rules not loaded"

step "SIGTERM"
# docker stop sends the image's stop signal (SIGTERM), then SIGKILL (exit 137) after the grace.
[ "$(docker inspect -f '{{.Config.StopSignal}}' "$IVR")" = "" ] \
    || [ "$(docker inspect -f '{{.Config.StopSignal}}' "$IVR")" = SIGTERM ] || fail "stop signal"
started=$(date +%s)
docker stop -t "$GRACE" "$IVR" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$IVR")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
echo "image-test: stopped cleanly in $(( $(date +%s) - started )) s (grace ${GRACE} s)"
STEP=done
echo "image-test: passed"
