start_redis() {
	local dir=$1 try pid
	shift
	mkdir -p "$dir"
	for try in 1 2 3; do
		REDIS_PORT=$(free_port) || return 1
		redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
			--dir "$dir" --logfile "$dir/log" --daemonize no --enable-debug-command yes "$@" \
			</dev/null >/dev/null 2>&1 &
		pid=$!
		REDIS_PIDS="$REDIS_PIDS $pid"
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			[ "$(timeout 2 redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
			sleep 0.1
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		echo "# redis-server (try $try, port $REDIS_PORT) did not answer; its log ends:"
		tail -3 "$dir/log" 2>/dev/null | sed 's/^/#   /'
	done
	return 1
}
