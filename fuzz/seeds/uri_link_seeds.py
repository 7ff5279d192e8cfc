#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/uri and fuzz/corpus/link: the URI
examples of RFC 7252 (§6.6, Appendix B) and RFC 8323 (§8), every scheme,
IPv6 literals with zones, dot segments, a few malformed URIs; the
link-format examples of RFC 6690 §5, libcoap 4.3.1's /.well-known/core,
quoted strings with separators and escapes, whitespace variants and a few
malformed inputs. For link seeds the first byte selects strict (0x00) or
lenient (0x01) parsing. Run from anywhere; overwrites."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")

URIS = [
    "coap://example.com:5683/~sensors/temp.xml",
    "coap://EXAMPLE.com/%7Esensors/temp.xml",
    "coap://EXAMPLE.com:/%7esensors/temp.xml",
    "coap://[2001:db8::2:1]/",
    "coap://example.net/.well-known/core",
    "coap://xn--18j4d.example/%E3%81%93%E3%82%93%E3%81%AB%E3%81%A1%E3%81%AF",
    "coap://198.51.100.1:61616//%2F//?%2F%2F&?%26",
    "coap+ws://example.org/sensors/temperature?u=Cel",
    "coaps+ws://example.org/sensors/temperature?u=Cel",
    "coap+wss://example.org:8443/a",
    "coap+tcp://[::1]:5683/x",
    "coaps+tcp://[fe80::1%25eth0]:5684/time",
    "coaps://192.0.2.1/a/b/../c/./d",
    "coaps+wr://peer.example/sensors",
    "COAP+TCP://H/%2E%2E/x?a&&b=",
    "coap://[::ffff:192.0.2.1]:1/",
    "coap://h/a//..",
    "coap://h#frag",
    "coap://h:99999/",
    "http://example.com/",
    "coap://[v1.x]/",
    "coap://h/%zz",
    "coaps+wr://h:1/",
]

LINKS = [
    b'</>;title="General Info";ct=0,</time>;if="clock";rt="ticks";'
    b'title="Internal Clock";ct=0;obs,</async>;ct=0,</example_data>;'
    b'title="Example Data";ct=0;obs',
    b'</sensors/temp>;if="sensor",</sensors/light>;if="sensor"',
    b'</sensors/temp>;rt="temperature-c";if="sensor",'
    b'</sensors/light>;rt="light-lux";if="sensor"',
    b'</sensors>;ct=40;title="Sensor Index",'
    b'<http://www.example.com/sensors/t123>;anchor="/sensors/temp";'
    b'rel="describedby",</t>;anchor="/sensors/temp";rel="alternate"',
    b'</firmware/v2.1>;rt="firmware";sz=262144',
    b'</a>;title="x, y; z";rt="one two",</b>;title="say \\"hi\\" \\\\"',
    b'<>;title*=UTF-8\'de\'n%c3%a4chstes;f,<coap://[::1]/a?b=c>;ct="0 40"',
    b'</a>;x=1;;y',
    b'</a>,',
    b'</a>;x="unterminated',
]
LENIENT = [
    b' </a> ; x = 1 ;\tobs ,\n </b>;y="q, r"\r\n',
    b'</a>,\n</b>;rt="x"\n',
]


def main():
    for name, items in (("uri", [u.encode() for u in URIS]),
                        ("link", [b"\x00" + x for x in LINKS] +
                         [b"\x01" + x for x in LENIENT])):
        d = os.path.join(CORPUS, name)
        os.makedirs(d, exist_ok=True)
        for i, data in enumerate(items):
            with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
