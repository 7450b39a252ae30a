#!/bin/bash
# sluice-healthcheck [PATH] [PORT]: exit 0 when GET http://127.0.0.1:PORT/PATH
# answers 200.  bash's /dev/tcp keeps curl out of the runtime image.
path=${1:-/health}
port=${2:-9464}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
IFS=' ' read -r -t 3 _ status _ <&3 || exit 1
[ "$status" = 200 ]
