#!/usr/bin/env bash
# Start the local PostgreSQL (127.0.0.1:5432), Redis (127.0.0.1:6379) and Mosquitto (127.0.0.1:1883) that the tests
# use, if they are installed here and not already answering. Prints what it did; fails if a service stays down.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    local port=$1 name=$2
    for _ in $(seq 1 50); do
        port_open "$port" && return 0
        sleep 0.2
    done
    echo "$name did not come up on 127.0.0.1:$port" >&2
    return 1
}

if port_open 5432; then
    echo "postgresql: already running"
elif command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    wait_port 5432 postgresql && echo "postgresql: started"
else
    echo "postgresql: not installed and not running on 127.0.0.1:5432" >&2
    exit 1
fi

if port_open 6379; then
    echo "redis: already running"
elif command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_port 6379 redis && echo "redis: started"
else
    echo "redis: not installed and not running on 127.0.0.1:6379" >&2
    exit 1
fi

# Mosquitto (issue #10: Frigate and Home Assistant over MQTT). Tests that restart a broker start their own.
if port_open 1883; then
    echo "mosquitto: already running"
elif command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; then
    mkdir -p /run/mosquitto /var/lib/mosquitto /var/log/mosquitto
    chown mosquitto:mosquitto /run/mosquitto /var/lib/mosquitto /var/log/mosquitto 2>/dev/null || true
    "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -d -c /etc/mosquitto/mosquitto.conf
    wait_port 1883 mosquitto && echo "mosquitto: started"
else
    echo "mosquitto: not installed and not running on 127.0.0.1:1883" >&2
    exit 1
fi
