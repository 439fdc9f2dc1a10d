package webrtc

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"
)

// TestGarbageOnTheMuxPort sends junk to the port every call shares while
// a call is up: the call goes on carrying media, and nothing panics.
func TestGarbageOnTheMuxPort(t *testing.T) {
	e := newEngine(t, Config{})
	k := dial(t, e, "opus", 48000)
	k.toEngine(t, 111, []byte("before the junk"))
	ufrag := attrs(audioMedia(t, k.answer), "ice-ufrag")[0]

	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(e.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := rand.New(rand.NewPCG(1, 2))
	junk := [][]byte{
		{},
		{0},
		stunHeader(0x0001, 0)[:10],      // truncated STUN header
		stunHeader(0x0001, 400),         // STUN header claiming 400 bytes it lacks
		stunBinding("nobody:here"),      // a binding request for no call
		stunBinding(ufrag + ":browser"), // for the live call, with a forged integrity
		{0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},                                                   // an RTP header with no payload, from a stranger
		append([]byte{0x80, 111, 0, 2, 0, 0, 3, 192, 0xde, 0xad, 0xbe, 0xef}, make([]byte, 160)...), // fake Opus
		{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},   // fake RTCP SR
		{0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 1, 0, 0},                                // DTLS ClientHello record, cut
	}
	for range 200 {
		b := make([]byte, r.IntN(1500))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		junk = append(junk, b)
	}
	for round := range 3 {
		for _, b := range junk {
			if _, err := conn.Write(b); err != nil {
				t.Fatalf("write junk: %v", err)
			}
		}
		k.toEngine(t, 111, []byte{'b', byte(round)})
		k.toClient(t, 111, []byte{'s', byte(round)})
	}
	select {
	case <-k.p.Done():
		t.Fatalf("peer done after the junk: %v", k.p.Err())
	default:
	}
}

// stunHeader is a STUN header (RFC 8489 section 5) of type typ claiming
// length bytes of attributes.
func stunHeader(typ uint16, length int) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], uint16(length))
	binary.BigEndian.PutUint32(b[4:], 0x2112A442)
	copy(b[8:], "transaction1")
	return b
}

// stunBinding is a Binding request with USERNAME user and a
// MESSAGE-INTEGRITY no key made.
func stunBinding(user string) []byte {
	pad := (4 - len(user)%4) % 4
	attrs := make([]byte, 0, 4+len(user)+pad+24)
	attrs = binary.BigEndian.AppendUint16(attrs, 0x0006) // USERNAME
	attrs = binary.BigEndian.AppendUint16(attrs, uint16(len(user)))
	attrs = append(attrs, user...)
	attrs = append(attrs, make([]byte, pad)...)
	attrs = binary.BigEndian.AppendUint16(attrs, 0x0008) // MESSAGE-INTEGRITY
	attrs = binary.BigEndian.AppendUint16(attrs, 20)
	attrs = append(attrs, []byte("not-the-right-hmac!!")...)
	return append(stunHeader(0x0001, len(attrs)), attrs...)
}
