"""The loopback open-ACL listener as a conformant MQTT broker for tests
(docs/PRODUCT.md §3 "Conformance", docs/CONFORMANCE.md): any client id, sessions
with expiry, queued and re-sent QoS 1/2 messages, wills with delay, retained
messages, QoS 2 end to end, properties forwarded unchanged, No Local,
subscription identifiers, flow control, wildcards and '$' topics.

Driven by python3-paho-mqtt (MQTT 5 and 3.1.1) and by raw bytes. CI cannot
fetch the Eclipse Paho interoperability suites; these tests cover each of
their features here, and docs/CONFORMANCE.md records the suites' results.

Nothing sleeps: a test that must show a message did NOT arrive publishes a
marker after the event that would have caused it and checks the marker is
the next message (the broker keeps each subscriber's messages in order).
"""
import queue
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccdaemon import TIMEOUT  # noqa: E402
from test_machine_channel import (  # noqa: E402
    CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBLISH, SUBACK, RawClient, mqtt_str,
    packet, parse_props, props_block, subscribe_packet, ack_packet, publish_packet, assert_closed)

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

V311, V5 = 4, 5
NOSUB = "test/nosubscribe"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    f = ccdaemon.Fleet.create(tmp_path_factory.mktemp("conformance"), machines=["O1"])
    with ccdaemon.Daemon(f, tls=False, plain=True, plain_acl="open",
                         settings={"mqtt_open_nosubscribe": NOSUB}) as d:
        d.fleet = f
        yield d
    # The broker is in memory: the store saw nothing.
    assert f.telemetry("O1") == [] and f.events("O1") == []


@pytest.fixture
def b(broker):
    yield broker
    assert broker.alive(), "the daemon died during this test:\n" + broker.log[-4000:]


def props(**kw):
    p = Properties(PacketTypes.PUBLISH)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


class Client:
    """A paho-mqtt client recording connack, messages and subscriptions as events."""

    def __init__(self, port, cid, version=V5, clean=True, expiry=None, receive_max=None, alias_max=None):
        self.port, self.version, self.clean = port, version, clean
        self.expiry, self.receive_max, self.alias_max = expiry, receive_max, alias_max
        if version == V5:
            self.c = paho.Client(client_id=cid, protocol=paho.MQTTv5)
        else:
            self.c = paho.Client(client_id=cid, protocol=paho.MQTTv311, clean_session=clean)
        self.connected, self.gone = threading.Event(), threading.Event()
        self.messages, self.subacks = queue.Queue(), queue.Queue()
        self.connack = None
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        if version == V5:
            self.c.on_connect = self._connect5
            self.c.on_subscribe = lambda c, u, mid, codes, p: self.subacks.put([x.value for x in codes])
            self.c.on_disconnect = lambda c, u, rc, p=None: self.gone.set()
        else:
            self.c.on_connect = lambda c, u, fl, rc: self._connected(rc, fl.get("session present"), None)
            self.c.on_subscribe = lambda c, u, mid, granted: self.subacks.put(list(granted))
            self.c.on_disconnect = lambda c, u, rc: self.gone.set()
        self.started = False

    def _connect5(self, c, u, flags, rc, p):
        self._connected(rc.value if hasattr(rc, "value") else int(rc), flags.get("session present"), p)

    def _connected(self, rc, present, p):
        self.connack = (rc, present, p)
        self.connected.set()

    def will(self, topic, payload, qos=1, retain=False, delay=None, **kw):
        p = Properties(PacketTypes.WILLMESSAGE) if self.version == V5 else None
        if delay is not None:
            p.WillDelayInterval = delay
        for k, v in kw.items():
            setattr(p, k, v)
        self.c.will_set(topic, payload, qos, retain, properties=p)
        return self

    def connect(self):
        if self.version == V5:
            p = Properties(PacketTypes.CONNECT)
            if self.expiry is not None:
                p.SessionExpiryInterval = self.expiry
            if self.receive_max is not None:
                p.ReceiveMaximum = self.receive_max
            if self.alias_max is not None:
                p.TopicAliasMaximum = self.alias_max
            self.c.connect("127.0.0.1", self.port, clean_start=self.clean, properties=p)
        else:
            self.c.connect("127.0.0.1", self.port)
        self.c.loop_start()
        self.started = True
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        assert self.connack[0] == 0, f"CONNECT refused: {self.connack}"
        return self

    @property
    def present(self):
        return bool(self.connack[1])

    def sub(self, topic, qos=2, sub_id=None, **opts):
        if self.version == V5:
            p = None
            if sub_id is not None:
                p = Properties(PacketTypes.SUBSCRIBE)
                p.SubscriptionIdentifier = sub_id
            self.c.subscribe(topic, options=SubscribeOptions(qos, **opts), properties=p)
        else:
            self.c.subscribe(topic, qos)
        try:
            return self.subacks.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no SUBACK for {topic}")

    def pub(self, topic, payload, qos=1, retain=False, properties=None):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), f"QoS {qos} publish to {topic} not completed"

    def msg(self, timeout=TIMEOUT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout} s")

    def next_is_marker(self, marker_topic, what):
        m = self.msg()
        assert m.topic == marker_topic, f"{what}: got {m.topic} {m.payload!r} before the marker"

    def disconnect(self, **kw):
        if self.started:
            self.c.disconnect(**kw)
            self.gone.wait(TIMEOUT)
            self.c.loop_stop()
            self.started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disconnect()


def raw_connect(port, cid, version=V5, clean=True, props=b"", will=None, keepalive=60):
    """A raw connection; will = (topic, payload, qos, retain, will_props_bytes)."""
    flags = 0x02 if clean else 0
    body = mqtt_str("MQTT")
    tail = mqtt_str(cid)
    if will:
        topic, payload, qos, retain, wprops = will
        flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
        if version == V5:
            tail += props_block(wprops)
        tail += mqtt_str(topic) + struct.pack("!H", len(payload)) + payload
    body += bytes([version, flags]) + struct.pack("!H", keepalive)
    if version == V5:
        body += props_block(props)
    c = RawClient.plain(port, version)
    c.send(packet(CONNECT << 4, body + tail))
    p = c.expect(CONNACK)
    return c, p


def kill(raw):
    """Ends a connection without DISCONNECT (as a crashed client would)."""
    raw.sock.shutdown(socket.SHUT_RDWR)
    raw.close()


def server_time_passes(b, seconds, name="clock"):
    """Waits for an event that the broker makes `seconds` after now: the
    delayed will of a connection that ends at once (no sleeping here)."""
    with Client(b.plain_port, f"{name}-watch").connect() as w:
        w.sub(f"{name}/#", 1)
        c, _ = raw_connect(b.plain_port, name, props=b"\x11" + struct.pack("!I", 60),
                           will=(f"{name}/tick", b"tick", 1, False, b"\x18" + struct.pack("!I", seconds)))
        t0 = time.monotonic()
        kill(c)
        m = w.msg(timeout=seconds + TIMEOUT)
        assert m.payload == b"tick"
        return time.monotonic() - t0


# ============================================================ client ids and sessions

def test_any_client_id_and_assigned_ids(b):
    odd = "my client/id é+#"
    mark = b.mark()
    with Client(b.plain_port, odd).connect() as c:
        assert c.connack[0] == 0
    # An empty client id with clean start: MQTT 5 assigns one and says which.
    c, p = raw_connect(b.plain_port, "", V5)
    with c:
        assert p.body[:2] == b"\x00\x00", p
        props, _ = parse_props(p.body[2:])
        assert props.get(0x12, b"").startswith(b"cc-auto-"), props
        assert props.get(0x29) == 1, f"subscription identifiers available: {props}"
    # 3.1.1: an empty client id needs clean session (return code 2 otherwise).
    c, p = raw_connect(b.plain_port, "", V311, clean=False)
    with c:
        assert p.body == b"\x00\x02", p
        assert_closed(c, "after CONNACK 2")
    c, p = raw_connect(b.plain_port, "", V311, clean=True)
    with c:
        assert p.body == b"\x00\x00", p
    # Only serial-shaped ids reach the log.
    assert odd not in "".join(b.lines(mark))


@pytest.mark.parametrize("version", [V311, V5], ids=["v311", "v5"])
def test_persistent_session_queues_qos12_and_reports_present(b, version):
    cid = f"persist-{version}"
    kw = dict(clean=False, expiry=300) if version == V5 else dict(clean=False)
    with Client(b.plain_port, cid, version, **kw).connect() as a:
        assert a.sub("q/+", 2) == [2]
    with Client(b.plain_port, f"pub-{version}").connect() as p:
        for qos in (0, 1, 2):
            p.pub(f"q/{qos}", f"offline qos {qos}".encode(), qos=qos)
    with Client(b.plain_port, cid, version, **kw).connect() as a:
        assert a.present, "session present"
        got = sorted((m.topic, m.qos) for m in (a.msg(), a.msg()))
        # QoS 0 is not queued for a disconnected session (allowed: MQTT 5 4.1).
        assert got == [("q/1", 1), ("q/2", 2)], got
    # A clean start discards the session.
    with Client(b.plain_port, cid, version, clean=True).connect() as a:
        assert not a.present


def test_session_expiry_interval_and_disconnect_override(b):
    with Client(b.plain_port, "expiry", expiry=0).connect() as a:
        a.sub("e/x")
    with Client(b.plain_port, "expiry", clean=False, expiry=0).connect() as a:
        assert not a.present, "session expiry 0 ends the session with the connection"
        a.sub("e/x")
        dp = Properties(PacketTypes.DISCONNECT)
        dp.SessionExpiryInterval = 0
        a.c.disconnect(properties=dp)
        a.gone.wait(TIMEOUT)
        a.c.loop_stop()
        a.started = False
    with Client(b.plain_port, "expiry", clean=False, expiry=100).connect() as a:
        assert not a.present
        a.sub("e/x")
    with Client(b.plain_port, "expiry", clean=False, expiry=100).connect() as a:
        assert a.present, "session expiry 100: kept"
        dp = Properties(PacketTypes.DISCONNECT)
        dp.SessionExpiryInterval = 0
        a.c.disconnect(properties=dp)  # DISCONNECT lowers it to 0: gone now
        a.gone.wait(TIMEOUT)
        a.c.loop_stop()
        a.started = False
    with Client(b.plain_port, "expiry", clean=False, expiry=100).connect() as a:
        assert not a.present, "DISCONNECT set the session expiry to 0"


def test_unacknowledged_messages_resent_on_reconnect(b):
    """QoS 1 and 2 messages sent but not acknowledged go again (DUP) when the
    persistent session resumes; a PUBREC'd one gets its PUBREL again."""
    c, p = raw_connect(b.plain_port, "redeliver", clean=True, props=b"\x11" + struct.pack("!I", 300))
    with c:
        c.send(subscribe_packet(1, ["r/#"], V5, qos=2))
        c.expect(SUBACK)
        with Client(b.plain_port, "redeliver-pub").connect() as pub:
            pub.pub("r/1", b"one", qos=1)
            pub.pub("r/2", b"two", qos=2)
        first = [c.expect(PUBLISH), c.expect(PUBLISH)]
        assert [(x.flags >> 1) & 3 for x in first] == [1, 2]
        # Only the QoS 2 one is answered (PUBREC): its PUBREL comes; then we go.
        pid2 = struct.unpack("!H", first[1].body[5:7])[0]
        c.send(ack_packet(5, pid2))
        rel = c.recv_packet()
        assert rel.type == 6 and struct.unpack("!H", rel.body[:2])[0] == pid2, rel
    c, p = raw_connect(b.plain_port, "redeliver", clean=False, props=b"\x11" + struct.pack("!I", 300))
    with c:
        assert p.body[0] == 1, "session present"
        again = c.expect(PUBLISH)
        assert again.flags & 0x08, "DUP on the re-sent PUBLISH"
        assert (again.flags >> 1) & 3 == 1 and again.body.endswith(b"one"), again
        rel = c.recv_packet()
        assert rel.type == 6 and struct.unpack("!H", rel.body[:2])[0] == pid2, f"PUBREL again: {rel}"
        c.send(ack_packet(PUBACK, struct.unpack("!H", again.body[5:7])[0]) + ack_packet(7, pid2))
        c.send(bytes([PINGREQ << 4, 0]))
        assert c.recv_packet().type == PINGRESP, "nothing else re-sent"


# ============================================================ wills

@pytest.mark.parametrize("version", [V311, V5], ids=["v311", "v5"])
def test_will_published_when_connection_lost_not_after_disconnect(b, version):
    with Client(b.plain_port, f"will-watch-{version}").connect() as w:
        w.sub("will/#")
        wprops = b"\x26" + mqtt_str("k") + mqtt_str("v") if version == V5 else b""
        c, p = raw_connect(b.plain_port, f"will-{version}", version,
                           will=("will/lost", b"gone", 1, False, wprops))
        assert p.body[1] == 0
        kill(c)
        m = w.msg()
        assert (m.topic, m.payload) == ("will/lost", b"gone")
        if version == V5:
            assert m.properties.UserProperty == [("k", "v")], m.properties
        # A normal DISCONNECT: no will.
        mark = b.mark()
        c, p = raw_connect(b.plain_port, f"will-{version}", version, will=("will/lost", b"gone", 1, False, b""))
        c.send(bytes([DISCONNECT << 4, 0]))
        assert_closed(c, "after DISCONNECT")
        b.wait_for(rf"will-{version} went away: disconnected", since=mark)
        w.pub("will/marker", b"m")
        w.next_is_marker("will/marker", "a will after a normal DISCONNECT")


def test_will_with_disconnect_0x04_and_retained_will(b):
    c, p = raw_connect(b.plain_port, "will-04", will=("will4/x", b"bye", 1, True, b""))
    c.send(bytes([DISCONNECT << 4, 1, 0x04]))
    assert_closed(c, "after DISCONNECT 0x04")
    with Client(b.plain_port, "will-04-late").connect() as w:
        w.sub("will4/#")
        m = w.msg()
        assert (m.topic, m.payload, m.retain) == ("will4/x", b"bye", 1), "the retained will, after the fact"
        w.pub("will4/x", b"", qos=1, retain=True)  # cleared


def test_will_delay_and_reconnection_within_it(b):
    with Client(b.plain_port, "delay-watch").connect() as w:
        w.sub("wd/#")
        expiry = b"\x11" + struct.pack("!I", 30)
        c, _ = raw_connect(b.plain_port, "delayed", props=expiry,
                           will=("wd/x", b"late", 1, False, b"\x18" + struct.pack("!I", 2)))
        t0 = time.monotonic()
        kill(c)
        m = w.msg()
        took = time.monotonic() - t0
        assert m.payload == b"late" and took >= 1.9, f"the will came after {took:.2f} s, delay 2 s"
        # Reconnecting within the delay cancels the will.
        c, _ = raw_connect(b.plain_port, "delayed", props=expiry,
                           will=("wd/x", b"cancelled", 1, False, b"\x18" + struct.pack("!I", 2)))
        kill(c)
        c, p = raw_connect(b.plain_port, "delayed", clean=False, props=expiry)
        assert p.body[0] == 1, "session present"
        c.send(bytes([DISCONNECT << 4, 0]))
        assert_closed(c, "after DISCONNECT")
        # Session expiry shorter than the delay: the will goes when the session ends.
        c, _ = raw_connect(b.plain_port, "delayed2", props=b"\x11" + struct.pack("!I", 0),
                           will=("wd/y", b"at once", 1, False, b"\x18" + struct.pack("!I", 60)))
        kill(c)
        m = w.msg()
        assert m.payload == b"at once", f"expected the expiry-0 will, got {m.payload!r}"
        # The cancelled will, had it been sent, would be due by now.
        assert server_time_passes(b, 3, "wdclock") >= 2.9
        w.pub("wd/marker", b"m")
        w.next_is_marker("wd/marker", "a will cancelled by reconnecting within its delay")


# ============================================================ retained messages

def test_retained_store_clear_and_handling(b):
    with Client(b.plain_port, "ret-pub").connect() as p:
        for qos in (0, 1, 2):
            p.pub(f"ret/{qos}", f"r{qos}".encode(), qos=qos, retain=True,
                  properties=props(UserProperty=[("a", "1")], ContentType="text/plain"))
        with Client(b.plain_port, "ret-sub").connect() as s:
            assert s.sub("ret/+", 2) == [2]
            got = sorted((m.topic, m.payload, m.qos, m.retain) for m in (s.msg(), s.msg(), s.msg()))
            assert got == [("ret/0", b"r0", 0, 1), ("ret/1", b"r1", 1, 1), ("ret/2", b"r2", 2, 1)], got
            # Retain handling 1: only for a new subscription; 2: never.
            s.sub("ret/+", 2, retainHandling=1)
            s.sub("ret/#", 2, retainHandling=2)
            s.sub("retm/#", 1)
            s.pub("retm/x", b"m")
            s.next_is_marker("retm/x", "retained messages for retain handling 1 (existing) / 2")
            # Forwarded (not on subscription): retain 0, unless Retain As Published.
            p.pub("ret/1", b"live", qos=1, retain=True)
            m = s.msg()
            assert (m.topic, m.payload, m.retain) == ("ret/1", b"live", 0), m
            s.sub("rap/#", 1, retainAsPublished=True)
            p.pub("rap/x", b"kept", qos=1, retain=True)
            m = s.msg()
            assert (m.payload, m.retain) == (b"kept", 1)
            p.pub("rap/x", b"", qos=1, retain=True)
            s.msg()  # the clearing message itself, forwarded
        # An empty retained payload clears the topic.
        for qos in (0, 1, 2):
            p.pub(f"ret/{qos}", b"", qos=qos, retain=True)
        with Client(b.plain_port, "ret-sub3").connect() as s:
            s.sub("ret/#")
            s.sub("retm/#")
            s.pub("retm/x", b"m")
            s.next_is_marker("retm/x", "a cleared retained message")


# ============================================================ QoS, properties, options

@pytest.mark.parametrize("pub_qos,sub_qos", [(2, 2), (2, 1), (1, 2), (0, 2)])
def test_qos_end_to_end_is_the_lower_of_both(b, pub_qos, sub_qos):
    with Client(b.plain_port, "qos-sub").connect() as s, Client(b.plain_port, "qos-pub").connect() as p:
        s.sub("qos/x", sub_qos)
        p.pub("qos/x", b"q", qos=pub_qos)
        assert s.msg().qos == min(pub_qos, sub_qos)


def test_properties_forwarded_unchanged_and_expiry_lowered(b):
    with Client(b.plain_port, "prop-sub").connect() as s, Client(b.plain_port, "prop-pub").connect() as p:
        s.sub("prop/#")
        sent = props(UserProperty=[("a", "2"), ("c", "3"), ("a", "4")], ContentType="application/json",
                     ResponseTopic="prop/reply", CorrelationData=b"\x00\x01corr", PayloadFormatIndicator=1,
                     MessageExpiryInterval=3600)
        for qos in (0, 1, 2):
            p.pub("prop/x", b"{}", qos=qos, properties=sent)
            got = s.msg().properties
            assert got.UserProperty == [("a", "2"), ("c", "3"), ("a", "4")], got
            assert (got.ContentType, got.ResponseTopic, got.CorrelationData, got.PayloadFormatIndicator) == \
                ("application/json", "prop/reply", b"\x00\x01corr", 1), got
            assert 3598 <= got.MessageExpiryInterval <= 3600, got


def test_expired_message_not_delivered_to_resumed_session(b):
    with Client(b.plain_port, "exp-sub", clean=True, expiry=300).connect() as s:
        s.sub("exp/#")
    with Client(b.plain_port, "exp-pub").connect() as p:
        p.pub("exp/short", b"expires", qos=1, properties=props(MessageExpiryInterval=1))
        p.pub("exp/long", b"stays", qos=1, properties=props(MessageExpiryInterval=600))
    server_time_passes(b, 2, "expclock")  # the first has expired by then
    with Client(b.plain_port, "exp-sub", clean=False, expiry=300).connect() as s:
        m = s.msg()
        assert m.payload == b"stays", f"an expired message was delivered: {m.payload!r}"
        assert m.properties.MessageExpiryInterval < 600


def test_no_local_and_subscription_identifiers(b):
    with Client(b.plain_port, "nl-a").connect() as a, Client(b.plain_port, "nl-b").connect() as bb:
        a.sub("nl/x", 2, noLocal=True)
        bb.sub("nl/x", 2, sub_id=2)
        bb.sub("nl/#", 1, sub_id=3)
        a.sub("nl/marker", 1)
        a.pub("nl/x", b"mine", qos=2)
        m = bb.msg()
        assert m.payload == b"mine" and m.qos == 2, "one message, the highest QoS of both subscriptions"
        assert sorted(m.properties.SubscriptionIdentifier) == [2, 3], m.properties
        a.pub("nl/marker", b"m")
        a.next_is_marker("nl/marker", "No Local")
        # 3.1.1 subscribers get neither properties nor errors.
        with Client(b.plain_port, "nl-311", V311).connect() as c:
            c.sub("nl/x", 1)
            a.pub("nl/x", b"to 3.1.1", properties=props(UserProperty=[("x", "y")]))
            m = c.msg()
            assert (m.payload, m.qos) == (b"to 3.1.1", 1)


def test_wildcards_and_dollar_topics(b):
    with Client(b.plain_port, "wild").connect() as s, Client(b.plain_port, "wild-pub").connect() as p:
        assert s.sub("#", 1) == [1]
        assert s.sub("+/+", 1) == [1]
        assert s.sub("$SYS/#", 1) == [0x87], "'$' filters are refused here"
        assert s.sub(NOSUB, 1) == [0x80]
        raw, _ = raw_connect(b.plain_port, "wild-raw")
        with raw:
            raw.send(subscribe_packet(3, ["a/#/b"], V5, qos=1))
            p_ = raw.expect(SUBACK)
            assert p_.body[-1] == 0x8F, f"an invalid filter: {p_!r}"
        p.pub("$x/y", b"dollar")  # accepted, but no wildcard at level 1 matches it
        p.pub("w/a", b"plain")
        m = s.msg()
        assert (m.topic, m.payload) == ("w/a", b"plain"), f"'$x/y' matched a leading wildcard: {m.topic}"
        # Overlapping subscriptions: one message.
        p.pub("w/b", b"once")
        p.pub("w/marker", b"m")
        assert s.msg().topic == "w/b"
        s.next_is_marker("w/marker", "overlapping subscriptions")


def test_shared_subscriptions_share_the_messages(b):
    c, p = raw_connect(b.plain_port, "share-probe")
    with c:
        assert parse_props(p.body[2:])[0].get(0x2A) == 1, "Shared Subscription Available"
    with Client(b.plain_port, "sh-1").connect() as s1, Client(b.plain_port, "sh-2").connect() as s2, \
            Client(b.plain_port, "sh-pub").connect() as p:
        assert s1.sub("$share/grp/sh/+", 1) == [1]
        assert s2.sub("$share/grp/sh/+", 1) == [1]
        s1.sub("shm/#", 1)
        s2.sub("shm/#", 1)
        for i in range(4):
            p.pub("sh/x", f"m{i}".encode())
        p.pub("shm/x", b"marker")
        got1, got2 = [], []
        for s, got in ((s1, got1), (s2, got2)):
            while True:
                m = s.msg()
                if m.topic == "shm/x":
                    break
                got.append(m.payload)
        assert sorted(got1 + got2) == [b"m0", b"m1", b"m2", b"m3"], (got1, got2)
        assert len(got1) == len(got2) == 2, f"taken in turn: {got1} {got2}"


def test_receive_maximum_and_packet_size_on_forwarding(b):
    """A subscriber announcing Receive Maximum 1 and Maximum Packet Size 64
    gets one unacknowledged message at a time, and never a larger packet."""
    c, p = raw_connect(b.plain_port, "rm1", props=b"\x21\x00\x01\x27" + struct.pack("!I", 64))
    with c, Client(b.plain_port, "rm1-pub").connect() as pub:
        c.send(subscribe_packet(1, ["rm/#"], V5, qos=1))
        c.expect(SUBACK)
        pub.pub("rm/1", b"a", qos=1)
        pub.pub("rm/big", b"x" * 100, qos=1)  # too large for it: dropped
        pub.pub("rm/2", b"b", qos=1)
        first = c.expect(PUBLISH)
        c.send(bytes([PINGREQ << 4, 0]))
        assert c.recv_packet().type == PINGRESP, "a second PUBLISH before the first was acknowledged"
        c.send(ack_packet(PUBACK, struct.unpack("!H", first.body[6:8])[0]))
        second = c.expect(PUBLISH)
        assert first.body.endswith(b"a") and second.body.endswith(b"b"), (first, second)
        assert all(2 + len(x.body) <= 64 for x in (first, second))


def test_server_topic_aliases(b):
    with Client(b.plain_port, "alias", alias_max=2).connect() as s, Client(b.plain_port, "alias-pub").connect() as p:
        s.sub("al/x")
        for qos in (0, 1, 2):
            p.pub("al/x", b"a", qos=qos)
            m = s.msg()
            # The first sets alias 1; the next send only the alias (paho 1.6.1 shows
            # the topic of such a message as it came: empty).
            want = "al/x" if qos == 0 else ""
            assert (m.topic, m.properties.TopicAlias, m.qos) == (want, 1, qos), (m.topic, m.properties)


def test_flow_control_inbound_receive_maximum_exceeded(b):
    """More QoS 2 messages than the server's receive maximum without PUBREL:
    DISCONNECT 0x93, read by the client before the connection closes."""
    c, p = raw_connect(b.plain_port, "flood")
    rm = parse_props(p.body[2:])[0][0x21]
    with c:
        c.send(b"".join(publish_packet("fl/x", b"q2", qos=2, packet_id=i) for i in range(1, rm + 2)))
        got = assert_closed(c, "receive maximum exceeded")
        assert got[-1].type == DISCONNECT and got[-1].body[0] == 0x93, got[-3:]


def test_takeover_and_state_is_bounded(b):
    a, _ = raw_connect(b.plain_port, "twice")
    with a:
        c2, p = raw_connect(b.plain_port, "twice")
        with c2:
            got = assert_closed(a, "the older connection of a taken-over session")
            assert got and got[0].type == DISCONNECT and got[0].body[0] == 0x8E, got
    # Bounded: a session's queue holds at most CC_BROKER_QUEUE_MAX (1000) messages.
    with Client(b.plain_port, "bounded", clean=True, expiry=300).connect() as s:
        s.sub("bd/#", 1)
    with Client(b.plain_port, "bounded-pub").connect() as p:
        for i in range(1005):
            p.c.publish("bd/x", str(i).encode(), qos=1)
        p.pub("bd/x", b"last", qos=1)
    with Client(b.plain_port, "bounded", clean=False, expiry=300).connect() as s:
        n = 0
        while True:
            m = s.msg()
            n += 1
            if m.payload == b"999":
                break
        assert n == 1000, n
        s.sub("bd2/#")
        s.pub("bd2/marker", b"m")
        s.next_is_marker("bd2/marker", "more than 1000 queued messages")


def test_subscriber_that_reads_late_gets_everything_in_order(b):
    """More than the socket buffers hold (300 x 60 KB) for a subscriber that
    does not read: the server queues it, waits for the socket to drain, and
    the subscriber then gets every message in order."""
    sub, _ = raw_connect(b.plain_port, "late-reader")
    pub, _ = raw_connect(b.plain_port, "late-writer")
    with sub, pub:
        assert sub.subscribe(["late/x"], qos=0) == [0]
        blob = b"y" * 60000
        for i in range(300):
            pub.send(publish_packet("late/x", struct.pack("!I", i) + blob, qos=0))
        pub.ping()  # the server has read (and forwarded) all 300
        got = []
        for _ in range(300):
            p = sub.expect(PUBLISH)
            tlen = struct.unpack("!H", p.body[:2])[0]
            payload = p.body[2 + tlen:][1:]  # after the (empty) v5 properties
            assert len(payload) == 4 + len(blob)
            got.append(struct.unpack("!I", payload[:4])[0])
        assert got == list(range(300))
