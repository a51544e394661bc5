"""A scripted XMPP customer for ccswitch tests (slixmpp 1.8.3).

Run with /usr/bin/python3 customer.py '<json config>'. Commands arrive as
JSON lines on stdin; every event, and every stanza received (as raw XML
plus parsed fields), leaves as one JSON line on stdout. Logs go to stderr.

Config: jid, password, host, port, software, version, os (XEP-0092; an
empty software refuses the query), caps_node (XEP-0115), category, type,
name (XEP-0030 identity), show, status, priority (initial presence),
subscribe (a JID to send presence subscribe to once online),
no_presence (stay unavailable).

Commands: {"cmd": "send", "to", "body", "state", "id", "type"},
{"cmd": "state", "to", "state"}, {"cmd": "presence", "show", "status",
"priority", "to", "type"}, {"cmd": "subscribe", "to"}, {"cmd": "raw",
"xml"}, {"cmd": "disconnect"}.

Events: {"event": "ready"}, {"event": "stanza", ...},
{"event": "sent", "id"}, {"event": "error", "message"},
{"event": "failed_auth"}, {"event": "disconnected"}.
"""

import asyncio
import json
import logging
import sys
import threading

import slixmpp

STANZAS = ("message", "presence", "iq")


STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def error_condition(xml):
    """The defined condition of a stanza's <error/> child, or ""."""
    for child in xml:
        if child.tag.endswith("}error") or child.tag == "error":
            for cond in child:
                if cond.tag.startswith("{%s}" % STANZA_ERRORS) and not cond.tag.endswith("}text"):
                    return cond.tag.split("}", 1)[1]
    return ""


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Customer(slixmpp.ClientXMPP):
    def __init__(self, cfg):
        super().__init__(cfg["jid"], cfg["password"])
        self.cfg = cfg
        self.closing = False
        self.await_echo = False
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0085")
        self.register_plugin(
            "xep_0092",
            {
                "software_name": cfg.get("software", ""),
                "version": cfg.get("version", ""),
                "os": cfg.get("os", ""),
            },
        )
        caps = {}
        if cfg.get("caps_node"):
            caps["caps_node"] = cfg["caps_node"]
        self.register_plugin("xep_0115", caps)
        self.add_filter("in", self.on_in)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler("disconnected", self.on_disconnected)

    def on_in(self, stanza):
        if stanza.name not in STANZAS:
            return stanza
        ev = {
            "event": "stanza",
            "kind": stanza.name,
            "type": stanza["type"] or "",
            "from": str(stanza["from"]),
            "to": str(stanza["to"]),
            "id": stanza["id"] or "",
            "xml": str(stanza),
        }
        if stanza.name == "message":
            ev["body"] = stanza["body"] or ""
            ev["state"] = stanza["chat_state"] or ""
        if stanza.name == "presence":
            ev["show"] = stanza["show"] or ""
            ev["status"] = stanza["status"] or ""
            ev["priority"] = int(stanza["priority"] or 0)
        if stanza["type"] == "error":
            ev["error"] = error_condition(stanza.xml)
        emit(ev)
        if (
            self.await_echo
            and stanza.name == "presence"
            and ev["from"] == self.boundjid.full
        ):
            # The server has our initial presence: we are available, and
            # a message to our bare JID reaches us.
            self.await_echo = False
            self.ready()
        return stanza

    def ready(self):
        if self.cfg.get("subscribe"):
            self.send_presence(pto=self.cfg["subscribe"], ptype="subscribe")
        emit({"event": "ready", "jid": str(self.boundjid)})

    async def on_start(self, _event):
        cfg = self.cfg
        if cfg.get("category"):
            await self["xep_0030"].del_identity()
            await self["xep_0030"].add_identity(
                cfg["category"], cfg.get("type", ""), cfg.get("name", "")
            )
        await self.get_roster()
        # Without this, the first presences carry no XEP-0115 <c/>.
        await self["xep_0115"].update_caps(broadcast=False)
        if cfg.get("no_presence"):
            self.ready()
            return
        self.await_echo = True
        self.send_presence(
            pshow=cfg.get("show") or None,
            pstatus=cfg.get("status") or None,
            ppriority=cfg.get("priority"),
        )

    def on_failed_auth(self, _event):
        emit({"event": "failed_auth"})
        self.closing = True
        self.disconnect()

    def on_disconnected(self, _event):
        if self.closing:
            emit({"event": "disconnected"})
            asyncio.get_event_loop().stop()
        else:
            emit({"event": "error", "message": "connection lost"})
            emit({"event": "disconnected"})
            asyncio.get_event_loop().stop()

    def command(self, line):
        try:
            c = json.loads(line)
            self.run_command(c)
        except Exception as e:  # report, never die on a bad command
            emit({"event": "error", "message": "%s: %s" % (type(e).__name__, e)})

    def run_command(self, c):
        cmd = c.get("cmd")
        if cmd in ("send", "state"):
            msg = self.make_message(
                mto=c["to"], mbody=c.get("body") or None, mtype=c.get("type") or "chat"
            )
            if c.get("state"):
                msg["chat_state"] = c["state"]
            if c.get("id"):
                msg["id"] = c["id"]
            msg.send()
            emit({"event": "sent", "id": msg["id"]})
        elif cmd == "presence":
            kw = {}
            if c.get("to"):
                kw["pto"] = c["to"]
            if c.get("type"):
                kw["ptype"] = c["type"]
            self.send_presence(
                pshow=c.get("show") or None,
                pstatus=c.get("status") or None,
                ppriority=c.get("priority"),
                **kw,
            )
            emit({"event": "sent"})
        elif cmd == "subscribe":
            self.send_presence(pto=c["to"], ptype="subscribe")
            emit({"event": "sent"})
        elif cmd == "raw":
            self.send_raw(c["xml"])
            emit({"event": "sent"})
        elif cmd == "disconnect":
            self.closing = True
            self.disconnect()
        else:
            emit({"event": "error", "message": "unknown command %r" % cmd})


def read_stdin(loop, xmpp):
    for line in sys.stdin:
        line = line.strip()
        if line:
            loop.call_soon_threadsafe(xmpp.command, line)
    # stdin closed: the test is gone; leave.
    loop.call_soon_threadsafe(xmpp.run_command, {"cmd": "disconnect"})


def main():
    logging.basicConfig(
        level=logging.DEBUG, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    cfg = json.loads(sys.argv[1])
    xmpp = Customer(cfg)
    loop = asyncio.get_event_loop()
    xmpp.connect(
        (cfg.get("host", "127.0.0.1"), int(cfg["port"])),
        force_starttls=False,
        disable_starttls=True,
    )
    threading.Thread(target=read_stdin, args=(loop, xmpp), daemon=True).start()
    loop.run_forever()


if __name__ == "__main__":
    main()
