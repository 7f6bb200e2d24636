"""A loopback HTTP endpoint for webhook tests: writes each POST body to DIR/<n>.body and answers 200."""
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

out_dir, port_file = sys.argv[1], sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    count = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Handler.count += 1
        path = os.path.join(out_dir, "%d.body" % Handler.count)
        with open(path + ".tmp", "wb") as f:
            f.write(body)
        os.rename(path + ".tmp", path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
server.timeout = 120
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.handle_request()
