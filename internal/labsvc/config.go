package labsvc

import (
	"encoding/binary"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/kalab-dev/kalab/internal/lab"
)

// safeDir keeps Dir to characters that need no quoting in any of the three
// configuration languages, so a path can never inject a directive.
var safeDir = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)

// header opens every file labsvc writes, so that someone who finds one in
// an output directory knows where it came from.
const header = "# Written by kalab (internal/labsvc) for a lab run: keepalive lines as the experiment asks, the rest keeps the server inside the lab and Dir.\n"

// redisConf is redis.conf: listen only on the lab address, stay in the
// foreground, log to stdout (Start sends it to the log file), keep data in
// Dir, never write snapshots (Stop must not wait for disk), and
// protected-mode off because the client is another lab host, not loopback.
func redisConf(s Spec) string {
	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "bind %s\nport %d\nprotected-mode no\n", s.Addr, s.port())
	fmt.Fprintf(&b, "daemonize no\nsupervised no\nlogfile \"\"\ndir %s\n", path.Join(s.Dir, "redis"))
	b.WriteString("save \"\"\nappendonly no\n")
	for _, l := range configLines(s) {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// postgresConf is appended to the postgresql.conf initdb wrote (later
// settings win). No Unix socket: Debian's default socket directory
// /var/run/postgresql belongs to the system cluster. Dynamic shared memory
// as files inside the data directory, so that even a killed server leaves
// nothing in /dev/shm. fsync off: the lab's data is thrown away.
func postgresConf(s Spec) string {
	var b strings.Builder
	b.WriteString("\n" + header)
	fmt.Fprintf(&b, "listen_addresses = '%s'\nport = %d\nunix_socket_directories = ''\n", s.Addr, s.port())
	b.WriteString("dynamic_shared_memory_type = mmap\nlogging_collector = off\nlog_destination = 'stderr'\n")
	b.WriteString("fsync = off\nmax_connections = 20\nshared_buffers = 16MB\n")
	for _, l := range configLines(s) {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// postgresHBA replaces pg_hba.conf: any role from a lab address without a
// password, so that a client's hello can complete the startup and then sit
// idle (a backend that never sees a startup packet gives up after
// authentication_timeout, 60 s, which would end the connection before a
// slow keepalive could).
func postgresHBA() string {
	return header + fmt.Sprintf("host all all %s trust\nhost all all 127.0.0.1/32 trust\n", lab.Range)
}

// nginxConf runs one nginx process in the foreground (no master, no
// daemon: the Service's PID is the process that accepts), logs to stderr,
// and points every path nginx would otherwise create under /var/lib/nginx
// or /var/log/nginx into Dir. The server answers every request with 200.
// HTTP's own keepalive_timeout (75 s) and client_header_timeout (60 s) stay
// at nginx's defaults: they are part of what nginx does to an idle client.
func nginxConf(s Spec) string {
	d := path.Join(s.Dir, "nginx")
	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "daemon off;\nmaster_process off;\nworker_processes 1;\npid %s;\nerror_log stderr notice;\n", path.Join(d, "nginx.pid"))
	b.WriteString("events {\n    worker_connections 64;\n}\nhttp {\n    access_log off;\n")
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", t, path.Join(d, t))
	}
	fmt.Fprintf(&b, "    server {\n        %s\n        location / {\n            return 200 \"kalab\\n\";\n        }\n    }\n}\n", nginxListen(s))
	return b.String()
}

// Hello is a request the product answers, and the prefix its answer starts
// with: what a client sends right after connecting so that the server has
// really taken the connection on before the client goes silent ([target]
// hello and expect). PostgreSQL's is a protocol 3.0 StartupMessage for user
// and database postgres, answered by AuthenticationOk ('R', length 8, 0):
// after it the backend waits for queries indefinitely.
func (p Product) Hello() (send, expect string) {
	switch p {
	case Redis:
		return "PING\r\n", "+PONG"
	case PostgreSQL:
		params := "user\x00postgres\x00database\x00postgres\x00\x00"
		msg := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
		msg = binary.BigEndian.AppendUint32(msg, 3<<16) // protocol 3.0
		return string(msg) + params, "R\x00\x00\x00\x08\x00\x00\x00\x00"
	case Nginx:
		return "GET / HTTP/1.1\r\nHost: kalab\r\n\r\n", "HTTP/1.1 200"
	}
	return "", ""
}
