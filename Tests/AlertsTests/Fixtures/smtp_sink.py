"""A loopback SMTP server for tests: writes each received message to DIR/<n>.eml and the envelope to DIR/<n>.env."""
import asyncio, os, socket, sys
from aiosmtpd.controller import Controller

out_dir, port_file = sys.argv[1], sys.argv[2]

class Sink:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.count += 1
        base = os.path.join(out_dir, str(Sink.count))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".env", "w") as f:
            f.write("from=%s\nto=%s\n" % (envelope.mail_from, ",".join(envelope.rcpt_tos)))
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK"

probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
controller = Controller(Sink(), hostname="127.0.0.1", port=port)
controller.start()
with open(port_file + ".tmp", "w") as f:
    f.write(str(port))
os.rename(port_file + ".tmp", port_file)
import time
try:
    time.sleep(120)
finally:
    controller.stop()
