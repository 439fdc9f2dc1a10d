package sip

import (
	"bytes"
	"io"
	"strings"
)

// dialtone: this file is not in sipgo. It holds what a server transaction
// keeps of its final response once compacted (see ServerTx.compact).

// sentResponse is a response as it was sent: its bytes, where they went
// and over what transport.
type sentResponse struct {
	raw   string
	dest  string
	tp    string
	raddr Addr
}

// newSentResponse serializes res, with where the transport sends it.
func newSentResponse(res *Response) *sentResponse {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	res.StringWrite(buf)
	return &sentResponse{
		raw:   buf.String(), // a copy of exactly the message's length
		dest:  res.Destination(),
		tp:    res.Transport(),
		raddr: res.remoteAddress(),
	}
}

// message returns the response as a Message the transport can write again.
func (s *sentResponse) message() Message {
	m := &sentMessage{raw: s.raw, raddr: s.raddr}
	m.SipVersion = "SIP/2.0"
	m.tp = s.tp
	m.dest = s.dest
	return m
}

// sentMessage is a message already serialized. It carries no parsed
// headers: only the transport reads it, for its bytes and where they go.
type sentMessage struct {
	MessageData
	raw   string
	raddr Addr
}

func (m *sentMessage) String() string { return m.raw }

func (m *sentMessage) StringWrite(w io.StringWriter) { _, _ = w.WriteString(m.raw) }

// StartLine returns the message's first line, for logs.
func (m *sentMessage) StartLine() string {
	line, _, _ := strings.Cut(m.raw, "\r\n")
	return line
}

func (m *sentMessage) remoteAddress() Addr { return m.raddr }

// startLine returns msg's first line, for logs.
func startLine(msg Message) string {
	if l, ok := msg.(interface{ StartLine() string }); ok {
		return l.StartLine()
	}
	return ""
}
