package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// the paths and the TLS certificate.
func selfSigned(t *testing.T) (certPath, keyPath string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "carrier.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath, cert
}

// tlsCarrier is a carrier reached over TLS: a sipgo user agent that answers
// every INVITE with PCMA toward rtpPort and counts what arrives over TLS.
type tlsCarrier struct {
	port              int
	invites, byes, tl atomic.Int32
}

func startTLSCarrier(t *testing.T, cert tls.Certificate, rtpPort int) *tlsCarrier {
	t.Helper()
	c := &tlsCarrier{port: freePort(t)}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tls-carrier"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	sdp := fmt.Sprintf("v=0\r\no=carrier 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n", rtpPort)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		c.invites.Add(1)
		if req.Transport() == "TLS" {
			c.tl.Add(1)
		}
		res := sip.NewSDPResponseFromRequest(req, []byte(sdp))
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "carrier", Host: "127.0.0.1", Port: c.port,
			UriParams: sip.HeaderParams{{K: "transport", V: "tls"}}}})
		_ = tx.Respond(res)
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		c.byes.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	ln, err := tls.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", c.port), &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln)
	t.Cleanup(func() { ln.Close(); ua.Close() })
	return c
}

// TestTLSCarrier: the switch reaches a carrier over TLS after verifying its
// certificate against the trunk's tls_ca; without that CA the call is not
// sent and the attempt says why.
func TestTLSCarrier(t *testing.T) {
	certPath, _, cert := selfSigned(t)
	rx := newReceiver(t)
	peer := startTLSCarrier(t, cert, rx.Port)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{peer.port},
		TrunkExtra: map[int]string{0: fmt.Sprintf("transport: tls, tls_ca: %q", certPath)}})
	sw.Account("alice", "secret")
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 300, end: "bye"}, "+442079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Fatalf("the call over TLS failed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for peer.byes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if peer.invites.Load() != 1 || peer.tl.Load() != 1 || peer.byes.Load() != 1 {
		t.Errorf("the TLS carrier saw %d INVITEs (%d over TLS) and %d BYEs, want 1, 1, 1", peer.invites.Load(), peer.tl.Load(), peer.byes.Load())
	}
	if cdrs := sw.CDRs(1); len(cdrs) != 1 || cdrs[0].Disposition != dialtone.Answered || cdrs[0].Attempts != "carrier1=200" {
		t.Errorf("CDRs %v", describe(cdrs))
	}

	// The same carrier, its certificate not trusted: nothing is sent in clear.
	untrusted := startSwitch(t, Options{Store: "sqlite", Trunks: []int{peer.port}, TrunkExtra: map[int]string{0: "transport: tls"}})
	untrusted.Account("alice", "secret")
	if st := dialApp(t, untrusted, appCall{user: "alice", password: "secret", end: "503"}, "+442079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("a carrier whose certificate does not verify: want 503")
	}
	if peer.invites.Load() != 1 {
		t.Errorf("the carrier got an INVITE through an unverified connection")
	}
	if cdrs := untrusted.CDRs(1); len(cdrs) != 1 || !strings.HasPrefix(cdrs[0].Attempts, "carrier1=transport") {
		t.Errorf("CDRs %v, attempts %q: want carrier1=transport", describe(cdrs), cdrs[0].Attempts)
	}
}
