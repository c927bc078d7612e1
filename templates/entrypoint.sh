#!/bin/sh
# modelpack image entry point (ENTRYPOINT runs it with /bin/sh, so it needs no exec bit).
# Runs the optional ./before-run hook, then *replaces* this shell with the model microservice:
# the server becomes PID 1 and receives SIGTERM itself, so `docker stop` drains requests.
set -e
cd /microservice
if [ -x ./before-run ]; then
    ./before-run
fi
if [ -n "${MODELPACK_COMMAND:-}" ]; then
    # Procfile / KServe layouts (docs/layouts.md): the web command; `docker run IMAGE ARGS` appends ARGS
    exec /bin/sh -c "$MODELPACK_COMMAND \"\$@\"" modelpack-command "$@"
fi
exec modelpack-microservice "$MODEL_NAME" --service-type "$SERVICE_TYPE" --persistence "$PERSISTENCE" "$@"
