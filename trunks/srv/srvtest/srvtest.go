// Package srvtest gives tests real DNS servers on 127.0.0.1, in the style
// of net/http/httptest. Each server is stopped when its test ends.
package srvtest

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// NXDomain starts a DNS server on 127.0.0.1:0 that knows no name and
// returns its address.
func NXDomain(tb testing.TB) string {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	started := make(chan struct{})
	server := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeNameError)
			_ = w.WriteMsg(m)
		})}
	go func() { _ = server.ActivateAndServe() }()
	<-started
	tb.Cleanup(func() { _ = server.Shutdown() })
	return pc.LocalAddr().String()
}
