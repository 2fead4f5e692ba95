# tests/tools/nginx.sh: sourced by tests and benches: nginx_start DIR ROOT [CERT KEY] serves ROOT on
# 127.0.0.1 at a free port (NGINX_PORT), and with CERT and KEY also over HTTPS (NGINX_TLS_PORT), in the
# foreground with its config, pid, logs and temp paths under DIR; its access log (DIR/access.log)
# records each request's Range header; under /norange/ it ignores Range (whole files, 200), as some
# servers do, under /onerange/ it answers one range a request (several: the whole file), and under
# /gbit/ it sends at most 1 Gbit/s a connection. nginx_stop ends it.
NGINX_PID= NGINX_PORT= NGINX_TLS_PORT=

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

nginx_start() {
	local d=$1 root=$2 cert=${3:-} key=${4:-} i tls=
	mkdir -p "$d"
	NGINX_PORT=$(free_port)
	if [ -n "$cert" ]; then
		NGINX_TLS_PORT=$(free_port)
		tls="server { listen 127.0.0.1:$NGINX_TLS_PORT ssl; ssl_certificate $cert; ssl_certificate_key $key; root $root; }"
	fi
	cat >"$d/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	log_format ranges '\$request \$status \$body_bytes_sent range=\$http_range';
	access_log $d/access.log ranges;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	default_type application/octet-stream;
	sendfile on;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $root;
		location /norange/ { max_ranges 0; }
		location /onerange/ { max_ranges 1; }
		location /gbit/ { limit_rate 125m; }
	}
	$tls
}
CONF
	nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf" &
	NGINX_PID=$!
	for i in $(seq 100); do
		if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
			"$NGINX_PORT" 2>/dev/null; then
			return 0
		fi
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "nginx did not start:" >&2
	cat "$d/error.log" >&2
	return 1
}

nginx_stop() {
	if [ -n "$NGINX_PID" ]; then
		kill "$NGINX_PID" 2>/dev/null || true
		wait "$NGINX_PID" 2>/dev/null || true
		NGINX_PID=
	fi
}
