package sip

import (
	"bytes"
	"io"
	"strings"
)

// dialtone: this file is not in sipgo. It holds what a server transaction
// keeps once compacted (see ServerTx.compact).

// sentMessage is a message already serialized: what a transaction resends
// as it was first sent. It carries no parsed headers; only the transport
// reads it, for its bytes and where they go.
type sentMessage struct {
	MessageData
	raw       string
	startLine string
	raddr     Addr
}

// newSentMessage serializes res, with where the transport sent it.
func newSentMessage(res *Response) *sentMessage {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	res.StringWrite(buf)
	raw := buf.String() // a copy of exactly the message's length
	m := &sentMessage{raw: raw, raddr: res.remoteAddress()}
	if i := strings.Index(raw, "\r\n"); i >= 0 {
		m.startLine = raw[:i]
	}
	m.SipVersion = res.SipVersion
	m.tp = res.tp
	m.src = res.src
	m.dest = res.Destination()
	return m
}

func (m *sentMessage) String() string { return m.raw }

func (m *sentMessage) StringWrite(w io.StringWriter) { _, _ = w.WriteString(m.raw) }

func (m *sentMessage) StartLine() string { return m.startLine }

func (m *sentMessage) remoteAddress() Addr { return m.raddr }

// requestLine returns a request with only req's request line and where it
// came from, without its headers and body.
func requestLine(req *Request) *Request {
	if req == nil {
		return nil
	}
	line := &Request{Method: req.Method, Recipient: req.Recipient, Laddr: req.Laddr, raddr: req.raddr}
	line.SipVersion = req.SipVersion
	line.tp = req.tp
	line.src = req.src
	line.dest = req.dest
	return line
}

// startLine returns msg's first line, for logs.
func startLine(msg Message) string {
	if l, ok := msg.(interface{ StartLine() string }); ok {
		return l.StartLine()
	}
	return ""
}
