package bridge

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/media/rtp"
	"github.com/dialtone/dialtone/media/sdp"
)

const appOffer = "v=0\r\no=app 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"

func newFactory(t *testing.T) *Factory {
	t.Helper()
	pool, err := rtp.NewPortPool(netip.MustParseAddr("127.0.0.1"), 46000, 46099)
	if err != nil {
		t.Fatal(err)
	}
	return NewFactory(Config{Pool: pool, Advertise: netip.MustParseAddr("192.0.2.7"), Timeout: time.Minute, Strict: rtp.DefaultStrict()})
}

func TestNegotiationPassesThrough(t *testing.T) {
	f := newFactory(t)
	b, err := f.New(context.Background(), "call-1", []byte(appOffer))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// The trunk prefers PCMU: it is offered first, with the app's payload types.
	offer, err := b.CarrierOffer([]string{"PCMU", "PCMA"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := sdp.Parse(offer)
	if err != nil {
		t.Fatalf("carrier offer does not parse: %v\n%s", err, offer)
	}
	if got := codecNames(o.Codecs); got != "PCMU/0 PCMA/8 telephone-event/101" {
		t.Errorf("carrier offer codecs = %s, want PCMU/0 PCMA/8 telephone-event/101", got)
	}
	if o.Addr.Addr().String() != "192.0.2.7" || strings.Contains(string(offer), "10.1.1.1") {
		t.Errorf("carrier offer leaks the app's address or lacks ours:\n%s", offer)
	}

	// The carrier picks PCMA; the app is answered with PCMA.
	ans := "v=0\r\no=c 1 1 IN IP4 198.51.100.9\r\ns=-\r\nc=IN IP4 198.51.100.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	if err := b.SetCarrierAnswer([]byte(ans)); err != nil {
		t.Fatal(err)
	}
	appAns, err := b.AppAnswer()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := sdp.Parse(appAns)
	if got := codecNames(a.Codecs); got != "PCMA/8 telephone-event/101" || strings.Contains(string(appAns), "198.51.100.9") {
		t.Errorf("app answer = %s\n%s, want PCMA/8 telephone-event/101 on our address only", got, appAns)
	}
	if app, carrier := b.Codecs(); app != "PCMA" || carrier != "PCMA" {
		t.Errorf("Codecs() = %s/%s, want PCMA/PCMA", app, carrier)
	}
}

func TestRefusals(t *testing.T) {
	f := newFactory(t)
	tests := []struct {
		name, offer string
	}{
		{"no G.711", strings.Replace(strings.Replace(appOffer, " 8 0 101", " 9 101", 1), "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "", 1)},
		{"SDES or DTLS profile", strings.Replace(appOffer, "RTP/AVP", "RTP/SAVP", 1)},
		{"garbage", "hello"},
	}
	for _, tt := range tests {
		if _, err := f.New(context.Background(), "x", []byte(tt.offer)); !errors.Is(err, dialtone.ErrNoCodec) {
			t.Errorf("New(%s) = %v, want %v", tt.name, err, dialtone.ErrNoCodec)
		}
	}
	b, err := f.New(context.Background(), "x", []byte(strings.Replace(appOffer, " 8 0 101", " 0 101", 1)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// A PCMU-only app reaches a PCMA-only trunk through law conversion.
	if _, err := b.CarrierOffer([]string{"PCMA"}); err != nil {
		t.Errorf("CarrierOffer(PCMA) for a PCMU-only app = %v, want an offer", err)
	}
	if _, err := b.CarrierOffer([]string{"G729"}); !errors.Is(err, dialtone.ErrNoCodec) {
		t.Errorf("CarrierOffer(G729) = %v, want %v", err, dialtone.ErrNoCodec)
	}
}

func codecNames(cs []sdp.Codec) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Name+"/"+strconv.Itoa(int(c.PT)))
	}
	return strings.Join(s, " ")
}

// The answer in a 183 and again in the 200 is one description (RFC 3264
// section 8: same o= version); a hold re-offer changes it and its version.
func TestAppAnswerVersions(t *testing.T) {
	b, err := newFactory(t).New(context.Background(), "call-v", []byte(appOffer))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	first, _ := b.AppAnswer()
	again, _ := b.AppAnswer()
	if string(first) != string(again) {
		t.Errorf("AppAnswer() twice differ:\n%s\n%s", first, again)
	}
	hold := strings.Replace(appOffer, "a=fmtp:101 0-16\r\n", "a=fmtp:101 0-16\r\na=sendonly\r\n", 1)
	if err := b.UpdateApp([]byte(hold)); err != nil {
		t.Fatalf("UpdateApp(hold) = %v", err)
	}
	held, _ := b.AppAnswer()
	a, err := sdp.Parse(held)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := sdp.Parse(first)
	if a.Direction != sdp.RecvOnly || a.Origin.SessionID != f.Origin.SessionID || a.Origin.Version != f.Origin.Version+1 {
		t.Errorf("answer to a hold = %s, origin %+v; want recvonly, same session, version %d", a.Direction, a.Origin, f.Origin.Version+1)
	}
}
