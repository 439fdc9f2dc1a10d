package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// checkListen binds every address the switch listens on (sip.listen,
// http.listen, api.listen, media.webrtc.listen), all at once, and lets
// them go, so that an address this machine does not have, a port in use
// or two keys naming the same socket stop `serve` before it touches the
// store; the certificate of tls and wss listeners is loaded too. The
// error names the file and the key.
func (c *Config) checkListen() error {
	if c.SIP.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.SIP.TLSCert, c.SIP.TLSKey); err != nil {
			return c.fileError(fmt.Errorf("sip.tls_cert, sip.tls_key: %w", err))
		}
	}
	type socket struct{ key, network, addr string }
	var want []socket
	for i, l := range c.SIP.Listen {
		network := "tcp"
		if l.Transport == "udp" {
			network = "udp"
		}
		want = append(want, socket{fmt.Sprintf("sip.listen[%d].addr", i), network, l.Addr})
	}
	want = append(want, socket{"http.listen", "tcp", c.HTTP.Listen})
	if c.API.Listen != "" {
		want = append(want, socket{"api.listen", "tcp", c.API.Listen})
	}
	if c.Media.WebRTC.Listen != "" {
		want = append(want, socket{"media.webrtc.listen", "udp", c.Media.WebRTC.Listen})
	}
	var open []io.Closer
	defer func() {
		for _, s := range open {
			s.Close()
		}
	}()
	for _, s := range want {
		var sock io.Closer
		var err error
		if s.network == "udp" {
			sock, err = net.ListenPacket("udp", s.addr)
		} else {
			sock, err = net.Listen("tcp", s.addr)
		}
		if err != nil {
			return c.fileError(fmt.Errorf("%s: %s", s.key, listenProblem(s.network, s.addr, err)))
		}
		open = append(open, sock)
	}
	return nil
}

// listenProblem says in words why addr cannot be listened on.
func listenProblem(network, addr string, err error) string {
	host, port, _ := net.SplitHostPort(addr)
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Sprintf("%s is not an address of this machine (%v)", host, err)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Sprintf("%s %s is in use, by another process or another key of this file (%v)", network, addr, err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Sprintf("port %s needs privileges (below 1024: root or CAP_NET_BIND_SERVICE) (%v)", port, err)
	}
	return strings.TrimSpace(err.Error())
}

// fileError puts the configuration file's name in front of err, as
// LoadConfig does for what the file itself says.
func (c *Config) fileError(err error) error {
	if c.path == "" {
		return err
	}
	return fmt.Errorf("config %s: %w", c.path, err)
}
