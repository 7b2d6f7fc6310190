"""A stand-in mail server: a real SMTP listener on 127.0.0.1 in a thread (aiosmtpd is not a
dependency). It speaks just enough SMTP for Django's SMTP backend: it accepts every message, or
refuses every recipient with a 5xx that echoes the address, as mail servers do."""

import socket
import socketserver
from dataclasses import dataclass, field

from tests.local_server import serve_in_thread


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    refuse_recipients: bool = False
    port: int = 0
    messages: list[dict] = field(default_factory=list)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def start(mailbox: Mailbox, port: int = 0) -> Server:
    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str):
            self.wfile.write(f"{line}\r\n".encode())

        def handle(self):
            self.reply("220 test-smtp ready")
            sender, recipients = "", []
            while line := self.rfile.readline():
                command = line.decode(errors="replace").strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 test-smtp")
                elif verb == "MAIL":
                    sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                    self.reply("250 2.1.0 ok")
                elif verb == "RCPT":
                    address = command.split(":", 1)[1].strip(" <>")
                    if mailbox.refuse_recipients:
                        self.reply(f"550 5.1.1 <{address}>: Recipient address rejected")
                    else:
                        recipients.append(address)
                        self.reply("250 2.1.5 ok")
                elif verb == "DATA":
                    self.reply("354 go ahead")
                    body = []
                    while (data := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                        body.append(data.decode(errors="replace"))
                    mailbox.messages.append(
                        {"from": sender, "to": recipients, "data": "".join(body)}
                    )
                    self.reply("250 2.0.0 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:  # RSET, NOOP, ...
                    self.reply("250 ok")

    server = Server(("127.0.0.1", port), Handler)
    serve_in_thread(server)
    return server
