rm -f /tmp/me-r/n
free_port() { echo x >> /tmp/me-r/n; if [ $(wc -l < /tmp/me-r/n) = 1 ]; then echo 23456; else echo 23457; fi; }
. ./f.sh
start_redis /tmp/me-r/d && echo started on $REDIS_PORT
kill $REDIS_PIDS
