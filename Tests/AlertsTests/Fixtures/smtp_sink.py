"""A loopback SMTP server for tests: writes each received message to DIR/<n>.eml and the envelope to DIR/<n>.env.

Optional third argument: a JSON file {"user": ..., "password": ...}. Then AUTH (PLAIN/LOGIN, without TLS: loopback
only) is required, and every attempt is appended to DIR/auth.log as "ok" or "refused <length of the password>".
"""
import asyncio, json, os, socket, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out_dir, port_file = sys.argv[1], sys.argv[2]
expected = json.load(open(sys.argv[3], encoding="utf-8")) if len(sys.argv) > 3 else None

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode("utf-8") == expected["user"]
          and auth_data.password.decode("utf-8") == expected["password"])
    with open(os.path.join(out_dir, "auth.log"), "a") as f:
        f.write("ok\n" if ok else "refused %d\n" % len(getattr(auth_data, "password", b"") or b""))
    return AuthResult(success=ok)

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
auth = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False) if expected else {}
controller = Controller(Sink(), hostname="127.0.0.1", port=port, **auth)
controller.start()
with open(port_file + ".tmp", "w") as f:
    f.write(str(port))
os.rename(port_file + ".tmp", port_file)
import time
try:
    time.sleep(120)
finally:
    controller.stop()
