#!/usr/bin/env python3
"""A webhook receiver for Alertmanager's notifications (AlertmanagerTests) and healthchecks-style pings
(HealthchecksPingTests): stores each POST body as DIR/N.json and its path as DIR/N.path, and answers 200. Listens on a free loopback port, written to PORTFILE once it accepts connections."""
import http.server
import os
import sys

directory, port_file = sys.argv[1], sys.argv[2]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        count += 1
        tmp = os.path.join(directory, "%d.tmp" % count)
        with open(tmp, "wb") as f:
            f.write(body)
        with open(os.path.join(directory, "%d.path" % count), "w") as f:
            f.write(self.path)
        os.rename(tmp, os.path.join(directory, "%d.json" % count))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
